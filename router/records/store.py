"""Call records in the store: append (one writer at a time per store), read, prune bodies,
verify.

Appends are serialised on the chain's head row (`call_record_head`): on PostgreSQL
`SELECT ... FOR UPDATE` makes every other appender (another worker, another host) wait until
this transaction commits; on SQLite the store's write transactions start with
`BEGIN IMMEDIATE`, which takes the database's write lock up front. Inside the lock the new
record gets `seq = head.seq + 1` and `prev_hash = head.hash`, so the chain never forks.
Appending is idempotent on the record id: a spooled record imported twice is stored once.

Appending needs the records key (`router.records.key`): each record is linked with an HMAC.
The head row also names the chain (`chain_id`, random, made by migration 0008) and the key
that extends it (`key_id`, set by the first keyed append): an appender holding another key is
refused (`RecordKeyMismatch`; the writer keeps the record in its spool) instead of forking the
chain. After each append the new head goes to the head log and the structured log
(`router.records.heads`). Each record gets `retain_until` (its INVITE time plus the retention
period), hashed with it; the store's triggers refuse pruning its PIDF-LO body before then.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from router.db import schema
from router.db.transactions import Transactions
from router.records.chain import LoggedHead, Verdict, link, verify
from router.records.heads import HeadLog, head_fields, record_head
from router.records.key import RecordKey, RecordKeyError
from router.records.model import CallRecord, ChainedRecord, TrunkTry

R = schema.call_records
HEAD = schema.call_record_head
N = schema.notifications
D = schema.notification_deliveries

READ_BATCH = 1000
DEFAULT_RETENTION_DAYS = 2555
"""E911_RECORD_RETENTION_DAYS' default (7 years); also what migration 0008 gives records
written before it."""

# Built once: an append runs for every 911, and building these per call costs CPU.
_HEAD_COLUMNS = (HEAD.c.seq, HEAD.c.hash, HEAD.c.key_id, HEAD.c.chain_id)
_LOCK_HEAD = sa.select(*_HEAD_COLUMNS).where(HEAD.c.id == 1).with_for_update()
_SELECT_BY_IDS = sa.select(R).where(R.c.id.in_(sa.bindparam("ids", expanding=True)))
_INSERT = R.insert()
_MOVE_HEAD = HEAD.update().where(HEAD.c.id == 1).values(
    seq=sa.bindparam("new_seq", type_=sa.BigInteger),
    hash=sa.bindparam("new_hash", type_=sa.String),
    key_id=sa.bindparam("new_key_id", type_=sa.String))


class RecordKeyMismatch(RecordKeyError):
    """The chain is keyed with another key than this appender's or verifier's."""


@dataclass(frozen=True, slots=True)
class ChainHeadRow:
    """`call_record_head`: the last link, the chain's id and the key extending it."""

    seq: int
    hash: str
    key_id: str
    """"" until the first keyed append."""
    chain_id: str


class StoreLike(Protocol):
    """What the records need from `router.store.store.Store`."""

    @property
    def engine(self) -> Engine: ...


@dataclass(frozen=True, slots=True)
class NotificationOutcome:
    """One e-mail to one emergency contact about one call, as the outbox has it now."""

    recipient: str
    state: str
    attempts: int
    sent_at: datetime | None
    possible_duplicate: bool


class RecordStore:
    """Safe to share between threads (one engine pool). `key` is needed to append and to
    verify; reading works without it."""

    def __init__(self, store: StoreLike, key: RecordKey | None = None, *,
                 retention_days: int = DEFAULT_RETENTION_DAYS,
                 head_log: HeadLog | None = None) -> None:
        self._db = Transactions(store.engine)
        self._key = key
        self._retention = timedelta(days=retention_days)
        self._head_log = head_log

    def _need_key(self) -> RecordKey:
        if self._key is None:
            raise RecordKeyError("no records key: set E911_RECORDS_KEY or "
                                 "E911_RECORDS_KEY_FILE (docs/observability.md, the key)")
        return self._key

    # -- writing ------------------------------------------------------------------------

    def append(self, record: CallRecord, *, now: datetime | None = None) -> ChainedRecord:
        """Add `record` at the end of the chain and return it chained. When a record with
        this id is already stored (a spooled copy imported again), return that one."""
        return self.append_many([record], now=now)[0]

    def append_many(self, records: Sequence[CallRecord], *, now: datetime | None = None
                    ) -> list[ChainedRecord]:
        """Add `records`, in order, at the end of the chain in one transaction (one commit,
        one fsync on SQLite) and return them chained, in the same order. The chain is the one
        `append` would make record by record (the same seq order and previous-hash links, all
        with the same `recorded_at`); a record whose id is already stored, or that came
        earlier in `records`, is not appended again: its stored link is returned. If anything
        fails nothing is written."""
        if not records:
            return []
        key = self._need_key()
        recorded_at = now or datetime.now(UTC)
        with self._db.write() as conn:
            head = _head_row(conn.execute(_LOCK_HEAD).one())
            if head.key_id and head.key_id != key.key_id:
                raise RecordKeyMismatch(
                    f"the record chain is keyed with key id {head.key_id}, this process has "
                    f"key id {key.key_id} ({key.source}): give every host the same "
                    f"E911_RECORDS_KEY")
            chained: dict[str, ChainedRecord] = {
                row.id: _chained_from(row)
                for row in conn.execute(_SELECT_BY_IDS, {"ids": [r.id for r in records]})
            }
            prev = None
            if head.seq:
                # `link` reads only the previous link's seq and hash.
                prev = ChainedRecord(head.seq, recorded_at, records[0], "", head.hash)
            rows = []
            last: ChainedRecord | None = None
            for record in records:
                if record.id in chained:
                    continue
                prev = link(prev, recorded_at, record, key=key, chain_id=head.chain_id,
                            retain_until=record.invite_at + self._retention)
                chained[record.id] = prev
                rows.append(_row_of(prev))
            if rows:
                assert prev is not None
                last = prev
                conn.execute(_INSERT, rows)
                conn.execute(_MOVE_HEAD, {"new_seq": last.seq, "new_hash": last.hash,
                                          "new_key_id": key.key_id})
        if last is not None:  # committed
            record_head(self._head_log,
                        head_fields(key, head.chain_id, last.seq, last.hash, recorded_at))
        return [chained[r.id] for r in records]

    def prune_bodies(self, now: datetime | None = None) -> int:
        """Drop the PIDF-LO body of records whose retention date (`retain_until`: the INVITE
        time plus E911_RECORD_RETENTION_DAYS when recorded) has passed, by `now` and by the
        database's clock alike (the triggers judge by the database's); their hashes stay.
        Returns how many."""
        when = now or datetime.now(UTC)
        with self._db.write() as conn:
            return int(conn.execute(
                R.update().where(R.c.pidf_lo.is_not(None), R.c.pidf_pruned_at.is_(None),
                                 R.c.retain_until <= when,
                                 R.c.retain_until <= sa.func.current_timestamp())
                .values(pidf_lo=None, pidf_pruned_at=when)
            ).rowcount)

    def log_head(self, now: datetime | None = None) -> ChainHeadRow | None:
        """Write the store's current head to the head log and the structured log (the writer
        does so at start and regularly, so a head is logged even when no call comes). None
        without a key: nothing to sign it with (the worker said so when it started)."""
        key = self._key
        if key is None:
            return None
        head = self.chain_head()
        record_head(self._head_log, head_fields(key, head.chain_id, head.seq, head.hash,
                                                now or datetime.now(UTC)))
        return head

    # -- reading ------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        head = self.chain_head()
        return head.seq, head.hash

    def chain_head(self) -> ChainHeadRow:
        with self._db.read() as conn:
            return _head_row(conn.execute(sa.select(*_HEAD_COLUMNS).where(HEAD.c.id == 1)).one())

    def count(self) -> int:
        with self._db.read() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(R)) or 0)

    def get(self, record_id: str) -> ChainedRecord | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(R).where(R.c.id == record_id)).first()
        return _chained_from(row) if row is not None else None

    def iter_chain(self, *, batch: int = READ_BATCH) -> Iterator[ChainedRecord]:
        """Every record in `seq` order, read in batches (keyset pagination) from one
        snapshot."""
        with self._db.snapshot() as conn:
            yield from _pages(conn, batch)

    def between(self, start: datetime | None, end: datetime | None, *,
                limit: int | None = None, account_id: str | None = None
                ) -> list[ChainedRecord]:
        """Records whose INVITE came in [start, end) (of one account when given), oldest
        first."""
        query = sa.select(R)
        if account_id is not None:
            query = query.where(R.c.account_id == account_id)
        if start is not None:
            query = query.where(R.c.invite_at >= start)
        if end is not None:
            query = query.where(R.c.invite_at < end)
        query = query.order_by(R.c.invite_at, R.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            return [_chained_from(r) for r in conn.execute(query).all()]

    def verify(self, *, logged: Sequence[LoggedHead] = (), now: datetime | None = None
               ) -> Verdict:
        """Check the whole chain against the key, the store's head and the `logged` heads
        (docs/observability.md, "Call records"). Raises `RecordKeyMismatch` when the chain is
        keyed with another key (every keyed record would fail: say so once)."""
        key = self._need_key()
        with self._db.snapshot() as conn:
            head = _head_row(conn.execute(sa.select(*_HEAD_COLUMNS).where(HEAD.c.id == 1)).one())
            if head.key_id and head.key_id != key.key_id:
                raise RecordKeyMismatch(f"the record chain is keyed with key id {head.key_id}; "
                                        f"the key given ({key.source}) has key id {key.key_id}")
            return verify(_pages(conn, READ_BATCH), key=key, chain_id=head.chain_id,
                          now=now or datetime.now(UTC), head=(head.seq, head.hash),
                          logged=logged)

    def logged_heads(self) -> tuple[tuple[LoggedHead, ...], tuple[str, ...]]:
        """This chain's heads in this store's head log, and the lines the key does not sign."""
        if self._head_log is None:
            return (), ()
        found = self._head_log.read(self._need_key(), self.chain_head().chain_id)
        return found.heads, found.forged

    def notifications(self, sip_call_ids: list[str]) -> dict[str, list[NotificationOutcome]]:
        """Notification outcomes from the outbox, by the caller's Call-ID (the join key both
        sides keep); an empty list for a call without a notification."""
        found: dict[str, list[NotificationOutcome]] = {cid: [] for cid in sip_call_ids}
        wanted = [cid for cid in sip_call_ids if cid]
        if not wanted:
            return found
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(N.c.sip_call_id, D.c.recipient, D.c.state, D.c.attempts,
                          D.c.sent_at, D.c.possible_duplicate)
                .join(D, D.c.call_ref == N.c.call_ref)
                .where(N.c.sip_call_id.in_(wanted))
                .order_by(N.c.sip_call_id, D.c.position)
            ).all()
        for row in rows:
            found[row.sip_call_id].append(NotificationOutcome(
                recipient=row.recipient, state=row.state, attempts=int(row.attempts),
                sent_at=row.sent_at, possible_duplicate=bool(row.possible_duplicate)))
        return found

    def summary_since(self, since: datetime) -> dict[tuple[str, str], int]:
        """(call_class, outcome) -> records whose INVITE came at or after `since`."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(R.c.call_class, R.c.outcome, sa.func.count())
                .where(R.c.invite_at >= since).group_by(R.c.call_class, R.c.outcome)
            ).all()
        return {(str(c), str(o)): int(n) for c, o, n in rows}


def _row_of(item: ChainedRecord) -> dict[str, Any]:
    r = item.record
    return {
        "seq": item.seq, "id": r.id, "recorded_at": item.recorded_at,
        "call_class": r.call_class, "outcome": r.outcome, "result": r.result,
        "final_status": r.final_status, "action": r.action, "invite_at": r.invite_at,
        "answered_at": r.answered_at, "ended_at": r.ended_at, "dialed": r.dialed,
        "account_id": r.account_id, "sip_user": r.sip_user, "sip_call_id": r.sip_call_id,
        "worker": r.worker, "call_ref": r.call_ref,
        "trunks_tried": [t.to_json() for t in r.trunks_tried], "trunk_used": r.trunk_used,
        "location_id": r.location_id, "location_source": r.location_source,
        "callback_number": r.callback_number, "pidf_sha256": r.pidf_sha256,
        "pidf_lo": r.pidf_lo, "pidf_pruned_at": item.pidf_pruned_at, "path": r.path,
        "prev_hash": item.prev_hash, "hash": item.hash, "chain_version": item.version,
        "retain_until": item.retain_until,
    }


def _chained_from(row: Row[Any]) -> ChainedRecord:
    record = CallRecord(
        id=row.id, call_class=row.call_class, outcome=row.outcome, result=row.result,
        final_status=int(row.final_status), action=row.action, invite_at=row.invite_at,
        answered_at=row.answered_at, ended_at=row.ended_at, dialed=row.dialed,
        account_id=row.account_id, sip_user=row.sip_user, sip_call_id=row.sip_call_id,
        worker=row.worker, call_ref=row.call_ref,
        trunks_tried=tuple(TrunkTry.from_json(t) for t in row.trunks_tried or []),
        trunk_used=row.trunk_used, location_id=row.location_id,
        location_source=row.location_source, callback_number=row.callback_number,
        pidf_sha256=row.pidf_sha256, pidf_lo=row.pidf_lo, path=row.path,
    )
    return ChainedRecord(int(row.seq), row.recorded_at, record, row.prev_hash, row.hash,
                         row.pidf_pruned_at, row.retain_until, int(row.chain_version))


def _pages(conn: Connection, batch: int) -> Iterator[ChainedRecord]:
    after = 0
    while True:
        rows = conn.execute(
            sa.select(R).where(R.c.seq > after).order_by(R.c.seq).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            yield _chained_from(row)
        after = int(rows[-1].seq)


def _head_row(row: Any) -> ChainHeadRow:
    return ChainHeadRow(int(row.seq), str(row.hash), str(row.key_id), str(row.chain_id))
