"""The recorder: the SIP thread hands it a notice (`submit`, a queue put: no I/O, never blocks,
never raises); its own thread writes the notice to the outbox, or to the local spool when the
store does not answer, and imports spooled notices once the store is back.

The thread writes what is queued in batches: it waits for one notice, takes every notice
already queued behind it (up to `BATCH_LIMIT`) and records them in one transaction (one
commit: on SQLite one fsync). If that transaction fails, it records them one by one, so a
notice the store refuses, or a store that is down, is handled notice by notice as always.

Nothing is lost once `submit` returned, except if the process dies in the few milliseconds
before the thread wrote the notice (docs/notifications.md, "What can be lost").
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

import structlog

from router.call.decide import Routed
from router.callref import new_call_ref
from router.metrics import NOTIFICATIONS
from router.notify.hook import notice_from_route
from router.notify.model import CountedState, EmergencyCallNotice
from router.notify.spool import Spool
from router.spool import take_batch

log = structlog.get_logger("router.notify.recorder")

IMPORT_INTERVAL_SECONDS = 2.0
"""How often the thread looks at the spool (and retries a notice it could not write at all)."""
BATCH_LIMIT = 200
"""At most this many queued notices in one transaction."""


class OutboxWriter(Protocol):
    def record_call(self, notice: EmergencyCallNotice, *, via_spool: bool = False,
                    now: datetime | None = None) -> bool: ...

    def record_calls(self, notices: Sequence[EmergencyCallNotice], *, via_spool: bool = False,
                     now: datetime | None = None) -> list[bool]: ...


_STOP = object()


class NotificationRecorder:
    """See the module docstring. `start()` before the first call; `stop()` drains."""

    def __init__(
        self,
        outbox: OutboxWriter,
        spool: Spool,
        *,
        notify_on_test_calls: bool = False,
        on_recorded: Callable[[], None] | None = None,
        import_interval_seconds: float = IMPORT_INTERVAL_SECONDS,
    ) -> None:
        self._outbox = outbox
        self._spool = spool
        self._notify_on_test_calls = notify_on_test_calls
        self._on_recorded = on_recorded
        self._interval = import_interval_seconds
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._submitted = itertools.count(1)
        self._last_submitted = 0
        self._handled = 0
        self._handled_changed = threading.Condition()
        self._held: list[EmergencyCallNotice] = []
        """Notices neither the store nor the spool took (disk full): kept and retried."""
        self._thread: threading.Thread | None = None

    # -- the SIP thread's side ----------------------------------------------------------

    def submit(self, notice: EmergencyCallNotice) -> None:
        """Queue `notice` for writing. Never blocks, never raises (runs on the SIP thread).
        A test call is dropped here unless E911_NOTIFY_ON_TEST_CALLS is on."""
        try:
            if notice.test_call and not self._notify_on_test_calls:
                return
            self._queue.put(notice)
            self._last_submitted = next(self._submitted)
        except Exception:  # a notification must never cost the call
            return

    def observe_route(self, routed: Routed) -> None:
        """The worker's hook (`Worker(on_route_decided=...)`): called for every routing
        decision; queues a notice for emergency and test calls. Never raises."""
        try:
            # The worker's reference for the call (router.callref): the same in its log
            # lines and its call record; a route made elsewhere gets one here.
            notice = notice_from_route(routed, call_ref=routed.call_ref or new_call_ref(),
                                       now=datetime.now(UTC))
            if notice is not None:
                self.submit(notice)
        except Exception:
            try:
                log.exception("e911.notify.hook_failed")
            except Exception:
                return

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="notify-recorder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write everything queued (to the store or the spool), then end the thread."""
        thread = self._thread
        if thread is None:
            return
        self._queue.put(_STOP)
        thread.join(timeout)
        self._thread = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every notice submitted so far was written (store or spool)."""
        target = self._last_submitted
        deadline = time.monotonic() + timeout
        with self._handled_changed:
            while self._handled < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._handled_changed.wait(left)
        return True

    def import_spool(self) -> int:
        """Import every spooled notice the store takes now; returns how many were imported.
        Stops at the first store failure (the store is still down)."""
        imported = 0
        for path, item in self._spool.items():
            if isinstance(item, ValueError):
                bad = self._spool.quarantine(path)
                log.error("e911.notify.spool_unreadable", file=bad.name)
                continue
            try:
                written = self._outbox.record_call(item, via_spool=True)
            except Exception as exc:
                log.info("e911.notify.spool_import_deferred", error=type(exc).__name__)
                break
            self._spool.remove(path)
            imported += 1
            log.info("e911.notify.imported", call_ref=item.call_ref, new=written)
            if written and self._on_recorded is not None:
                self._on_recorded()
        return imported

    # -- the recorder thread ------------------------------------------------------------

    def _run(self) -> None:
        next_import = 0.0
        while True:
            try:
                item = self._queue.get(timeout=self._interval)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._drain_on_stop()
                return
            try:
                if isinstance(item, EmergencyCallNotice) and not self._write_queued(item):
                    self._drain_on_stop()
                    return
                if time.monotonic() >= next_import:
                    next_import = time.monotonic() + self._interval
                    self._retry_held()
                    self.import_spool()
            except Exception:  # a bug here must not end the thread: later notices still count
                log.exception("e911.notify.recorder_failed")

    def _write_queued(self, first: EmergencyCallNotice) -> bool:
        """Write `first` and the notices already queued behind it (up to `BATCH_LIMIT`) as
        one batch. False when a stop request came among them."""
        notices, stop = take_batch(self._queue, first, EmergencyCallNotice, BATCH_LIMIT, _STOP)
        try:
            self._write_batch(notices)
        finally:
            self._mark_handled(len(notices))
        return not stop

    def _drain_on_stop(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, EmergencyCallNotice):
                self._write_queued(item)
        self._retry_held()

    def _mark_handled(self, count: int) -> None:
        with self._handled_changed:
            self._handled += count
            self._handled_changed.notify_all()

    def _write_batch(self, notices: list[EmergencyCallNotice]) -> None:
        """Record `notices` in one transaction; if that fails, one by one."""
        if len(notices) <= 1:
            for notice in notices:
                self._write(notice)
            return
        try:
            self._outbox.record_calls(notices)
        except Exception as exc:
            log.warning("e911.notify.batch_failed", notices=len(notices),
                        error=type(exc).__name__)
            for notice in notices:
                self._write(notice)
            return
        for notice in notices:
            self._recorded(notice)

    def _write(self, notice: EmergencyCallNotice) -> None:
        try:
            self._outbox.record_call(notice)
        except Exception as exc:
            self._to_spool(notice, type(exc).__name__)
            return
        self._recorded(notice)

    def _recorded(self, notice: EmergencyCallNotice) -> None:
        NOTIFICATIONS.labels(state=CountedState.RECORDED.value).inc()
        log.info("e911.notify.recorded", call_ref=notice.call_ref,
                 account_id=notice.account_id, test_call=notice.test_call)
        if self._on_recorded is not None:
            try:
                self._on_recorded()
            except Exception:
                log.exception("e911.notify.wake_failed")

    def _to_spool(self, notice: EmergencyCallNotice, why: str) -> None:
        try:
            path = self._spool.write(notice)
        except OSError as exc:
            self._held.append(notice)
            log.error("e911.notify.spool_failed", call_ref=notice.call_ref,
                      store_error=why, error=type(exc).__name__, held=len(self._held))
            return
        NOTIFICATIONS.labels(state=CountedState.SPOOLED.value).inc()
        log.warning("e911.notify.spooled", call_ref=notice.call_ref, store_error=why,
                    file=path.name)

    def _retry_held(self) -> None:
        held, self._held = self._held, []
        for notice in held:
            self._write(notice)
