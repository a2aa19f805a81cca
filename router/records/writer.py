"""The worker's side of call records: `submit` on the SIP thread (a queue put: no I/O, never
blocks, never raises), and a thread that appends each record to the store, or to the local
spool (`var/spool/records/<id>.json`) when the store does not answer, and imports the spool
once the store is back. It also prunes PIDF-LO bodies past their retention date, and writes
the chain's head outside the store (`RecordStore.log_head`) when it starts and every
`HEAD_INTERVAL_SECONDS`, besides the head each append writes.

The thread writes what is queued in batches: it waits for one record, takes every record
already queued behind it (up to `BATCH_LIMIT`) and appends them in one transaction (one
commit: on SQLite one fsync). If that transaction fails, it appends them one by one, so a
record the store refuses, or a store that is down, is handled record by record as always.

A record is never allowed to cost a call: every failure here is logged and counted
(`e911_call_records_total{result}`), never raised.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import structlog

from router.metrics import CALL_RECORDS
from router.records.key import RecordKeyError
from router.records.model import CallRecord, ChainedRecord, TrunkTry
from router.spool import JsonSpool, take_batch

log = structlog.get_logger("router.records.writer")

DEFAULT_SPOOL_DIR = Path("var/spool/records")
IMPORT_INTERVAL_SECONDS = 2.0
PRUNE_INTERVAL_SECONDS = 3600.0
HEAD_INTERVAL_SECONDS = 3600.0
BATCH_LIMIT = 200
"""At most this many queued records in one transaction."""
_STOP = object()


class RecordSink(Protocol):
    """What the writer needs from `router.records.store.RecordStore`."""

    def append(self, record: CallRecord, *, now: datetime | None = None) -> ChainedRecord: ...

    def append_many(self, records: Sequence[CallRecord], *, now: datetime | None = None
                    ) -> list[ChainedRecord]: ...

    def prune_bodies(self, now: datetime | None = None) -> int: ...

    def log_head(self, now: datetime | None = None) -> object: ...


# -- the spool -------------------------------------------------------------------------------


def record_to_json(record: CallRecord) -> str:
    data: dict[str, Any] = {
        name: getattr(record, name) for name in CallRecord.__dataclass_fields__
    }
    for key in ("invite_at", "answered_at", "ended_at"):
        value = data[key]
        data[key] = value.isoformat() if value is not None else None
    data["trunks_tried"] = [t.to_json() for t in record.trunks_tried]
    return json.dumps(data, sort_keys=True)


def record_from_json(text: str) -> CallRecord:
    data = json.loads(text)
    for key in ("invite_at", "answered_at", "ended_at"):
        if data[key] is not None:
            data[key] = datetime.fromisoformat(data[key])
    data["trunks_tried"] = tuple(TrunkTry.from_json(t) for t in data["trunks_tried"])
    return CallRecord(**data)


class RecordSpool:
    """Records waiting for the store, one `<record id>.json` each (see `router.spool`);
    several workers may share the directory."""

    def __init__(self, directory: Path = DEFAULT_SPOOL_DIR) -> None:
        self.directory = directory
        self._files = JsonSpool(directory, pattern="rec_*.json")

    def write(self, record: CallRecord) -> Path:
        return self._files.write(record.id, record_to_json(record))

    def items(self) -> Iterator[tuple[Path, CallRecord | ValueError]]:
        """Spooled records, oldest first; an unreadable file yields its ValueError."""
        for path, text in self._files.texts():
            try:
                yield path, record_from_json(text)
            except (ValueError, KeyError, TypeError) as exc:
                yield path, ValueError(f"{path.name}: {exc}")

    def quarantine(self, path: Path) -> Path:
        return self._files.quarantine(path)

    def count(self) -> int:
        return self._files.count()


# -- the writer ------------------------------------------------------------------------------


class RecordWriter:
    """See the module docstring. `start()` before the first call; `stop()` drains."""

    def __init__(
        self,
        sink: RecordSink,
        spool: RecordSpool,
        *,
        retention_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        import_interval_seconds: float = IMPORT_INTERVAL_SECONDS,
        prune_interval_seconds: float = PRUNE_INTERVAL_SECONDS,
        head_interval_seconds: float = HEAD_INTERVAL_SECONDS,
    ) -> None:
        self._sink = sink
        self._spool = spool
        self._retention = timedelta(days=retention_days)
        self._clock = clock
        self._import_interval = import_interval_seconds
        self._prune_interval = prune_interval_seconds
        self._head_interval = head_interval_seconds
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._submitted = 0
        self._handled = 0
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    # -- the SIP thread's side ----------------------------------------------------------

    def submit(self, record: CallRecord) -> None:
        """Queue `record`. Never blocks, never raises."""
        try:
            self._queue.put(record)
            self._submitted += 1
        except Exception:  # a record must never cost the call
            return

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="call-records", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write everything queued (to the store or the spool), then end the thread."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record submitted so far was written (store or spool)."""
        target = self._submitted
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._handled < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    # -- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        next_import = 0.0
        next_prune = 0.0
        next_head = 0.0
        while True:
            try:
                item = self._queue.get(timeout=self._import_interval)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._drain()
                return
            if isinstance(item, CallRecord) and not self._write_queued(item):
                self._drain()
                return
            now = time.monotonic()
            if now >= next_import:
                next_import = now + self._import_interval
                self._guarded(self.import_spool)
            if now >= next_prune:
                next_prune = now + self._prune_interval
                self._guarded(self.prune)
            if now >= next_head:
                next_head = now + self._head_interval
                self._guarded(self.log_head)

    def _write_queued(self, first: CallRecord) -> bool:
        """Write `first` and the records already queued behind it (up to `BATCH_LIMIT`) as
        one batch. False when a stop request came among them."""
        records, stop = take_batch(self._queue, first, CallRecord, BATCH_LIMIT, _STOP)
        try:
            self._write_batch(records)
        finally:
            with self._changed:
                self._handled += len(records)
                self._changed.notify_all()
        return not stop

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, CallRecord):
                self._write_queued(item)

    def _guarded(self, job: Callable[[], int]) -> None:
        try:
            job()
        except Exception:
            log.exception("e911.record.housekeeping_failed")

    def _write_batch(self, records: list[CallRecord]) -> None:
        """Append `records` in one transaction; if that fails, one by one."""
        if len(records) <= 1:
            for record in records:
                self._write(record)
            return
        try:
            chained = self._sink.append_many(records, now=self._clock())
        except Exception as exc:
            log.warning("e911.record.batch_failed", records=len(records),
                        error=type(exc).__name__)
            for record in records:
                self._write(record)
            return
        for record, stored in zip(records, chained, strict=True):
            self._written(record, stored)

    def _write(self, record: CallRecord) -> None:
        try:
            chained = self._sink.append(record, now=self._clock())
        except Exception as exc:
            if isinstance(exc, RecordKeyError):
                # No key, or another key than the chain's: the record waits in the spool
                # (imported once the key is right) rather than fork the chain.
                log.error("e911.record.key_refused", record_id=record.id, reason=str(exc))
            self._to_spool(record, type(exc).__name__)
            return
        self._written(record, chained)

    def _written(self, record: CallRecord, chained: ChainedRecord) -> None:
        CALL_RECORDS.labels(result="written").inc()
        log.info("e911.record.written", record_id=record.id, seq=chained.seq,
                 call_ref=record.call_ref, outcome=record.outcome)

    def _to_spool(self, record: CallRecord, why: str) -> None:
        try:
            path = self._spool.write(record)
        except OSError as exc:
            CALL_RECORDS.labels(result="failed").inc()
            log.error("e911.record.lost", record_id=record.id, store_error=why,
                      error=type(exc).__name__)
            return
        CALL_RECORDS.labels(result="spooled").inc()
        log.warning("e911.record.spooled", record_id=record.id, store_error=why,
                    file=path.name)

    def import_spool(self) -> int:
        """Append every spooled record the store takes now; stop at the first store failure."""
        imported = 0
        for path, item in self._spool.items():
            if isinstance(item, ValueError):
                bad = self._spool.quarantine(path)
                log.error("e911.record.spool_unreadable", file=bad.name)
                continue
            try:
                chained = self._sink.append(item, now=self._clock())
            except Exception as exc:
                log.info("e911.record.import_deferred", error=type(exc).__name__)
                break
            path.unlink(missing_ok=True)
            imported += 1
            CALL_RECORDS.labels(result="imported").inc()
            log.info("e911.record.imported", record_id=item.id, seq=chained.seq)
        return imported

    def log_head(self) -> int:
        """Write the chain's current head to the head log and the structured log."""
        self._sink.log_head(self._clock())
        return 1

    def prune(self) -> int:
        """Drop PIDF-LO bodies whose retention date has passed (hashes stay)."""
        now = self._clock()
        pruned = self._sink.prune_bodies(now)
        if pruned:
            log.info("e911.record.bodies_pruned", count=pruned,
                     retention_days=self._retention.days)
        return pruned
