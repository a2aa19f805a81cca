"""The durable notification outbox in the location store (tables from migration 0002).

One `notifications` row a call, one `notification_deliveries` row a recipient, written in
one transaction with the account's contacts of that moment. Senders lease due deliveries
(`claim_due`), and mark them sent, retrying or failed. docs/notifications.md describes the
states, the lease and the exactly-once question.

Only this module (and the sender through it) writes the two tables.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine, Row

from router.db import schema
from router.db.transactions import Transactions
from router.location.model import EventType, NewEvent
from router.notify.model import (
    OPEN_STATES,
    CallNotifications,
    Claim,
    Delivery,
    DeliveryState,
    EmergencyCallNotice,
    EventSink,
)

log = structlog.get_logger("router.notify.outbox")

N = schema.notifications
D = schema.notification_deliveries

ERROR_TEXT_LIMIT = 500
"""`last_error` keeps the SMTP server's words, cut to this many characters."""

_C = schema.emergency_contacts
_CONTACTS = (
    sa.select(_C.c.account_id, _C.c.position, _C.c.email)
    .where(_C.c.account_id.in_(sa.bindparam("accounts", expanding=True)))
    .order_by(_C.c.account_id, _C.c.position)
)
_INSERT_DELIVERIES = D.insert()


class StoreLike(Protocol):
    """What the outbox needs from `router.store.store.Store`."""

    @property
    def engine(self) -> Engine: ...


def new_owner() -> str:
    """A sender's lease-owner id: host, pid and a nonce (docs/notifications.md, "Lease")."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_process(owner: str) -> tuple[str, int] | None:
    """(host, pid) of a lease-owner id, None when it is not one of ours."""
    host, _, rest = owner.rpartition(":")
    host, _, pid = host.rpartition(":")
    if not host or not pid.isdigit() or not rest:
        return None
    return host, int(pid)


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counts by state and the age of the oldest delivery not yet settled."""

    by_state: dict[str, int]
    oldest_open_at: datetime | None

    def oldest_open_seconds(self, now: datetime) -> float:
        if self.oldest_open_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_open_at).total_seconds())


class Outbox:
    """Data access for the outbox; safe to share between threads (one engine pool)."""

    def __init__(self, store: StoreLike, *, message_id_domain: str = "e911-router.invalid",
                 events: EventSink | None = None):
        self._db = Transactions(store.engine)
        self._domain = message_id_domain
        self._events = events
        # Built once, not per call (CPU on the recorder thread for every 911).
        self._insert_notification = (
            self._db.insert()(N).on_conflict_do_nothing(index_elements=["call_ref"])
            .returning(N.c.call_ref))

    # -- recording ----------------------------------------------------------------------

    def record_call(
        self, notice: EmergencyCallNotice, *, via_spool: bool = False,
        now: datetime | None = None,
    ) -> bool:
        """Write the notification and one pending delivery per contact the account has now,
        in one transaction. Idempotent on `call_ref`: False when it was already recorded (a
        spooled copy imported twice), True when written."""
        return self.record_calls([notice], via_spool=via_spool, now=now)[0]

    def record_calls(
        self, notices: Sequence[EmergencyCallNotice], *, via_spool: bool = False,
        now: datetime | None = None,
    ) -> list[bool]:
        """`record_call` for each of `notices`, all in one transaction (one commit: on SQLite
        one fsync), the same rows. One flag per notice, in order: True when written, False
        when its `call_ref` was already recorded (or came earlier in `notices`). If anything
        fails nothing is written."""
        if not notices:
            return []
        when = now or datetime.now(UTC)
        first: dict[str, EmergencyCallNotice] = {}
        for notice in notices:
            first.setdefault(notice.call_ref, notice)
        with self._db.write() as conn:
            new = set(conn.scalars(self._insert_notification, [
                _notification_row(notice, via_spool, when) for notice in first.values()]))
            if not new:
                return [False] * len(notices)
            written = [notice for ref, notice in first.items() if ref in new]
            contacts: dict[str, list[tuple[int, str]]] = {}
            for account_id, position, email in conn.execute(
                    _CONTACTS, {"accounts": sorted({n.account_id for n in written})}):
                contacts.setdefault(account_id, []).append((position, email))
            rows = []
            for notice in written:
                for position, email in contacts.get(notice.account_id, ()):
                    delivery_id = f"dlv_{secrets.token_hex(10)}"
                    rows.append({
                        "id": delivery_id, "call_ref": notice.call_ref, "position": position,
                        "recipient": email,
                        "message_id": f"<{delivery_id}@{self._domain}>",
                        "state": DeliveryState.PENDING.value, "attempts": 0,
                        "next_attempt_at": when, "possible_duplicate": False,
                        "created_at": when,
                    })
            if rows:
                conn.execute(_INSERT_DELIVERIES, rows)
        self._started(written)
        flags, seen = [], set()
        for notice in notices:
            flags.append(notice.call_ref in new and notice.call_ref not in seen)
            seen.add(notice.call_ref)
        return flags

    def _started(self, notices: Sequence[EmergencyCallNotice]) -> None:
        """`emergency_call.started` for the API's event stream and webhooks (issue 6), once
        per call (after the idempotent insert), all of a batch in one transaction. Ids and facts
        only: no address, no number. A failure here costs the events, never the notifications
        (already committed)."""
        if self._events is None or not notices:
            return
        events = [NewEvent(
            notice.account_id, EventType.EMERGENCY_CALL_STARTED.value,
            {"call_ref": notice.call_ref, "dialed": notice.dialed,
             "test_call": notice.test_call,
             "located": notice.address_lines is not None and bool(notice.address_lines),
             "placed_at": notice.placed_at.isoformat()},
            sip_user=notice.sip_user or None) for notice in notices]
        try:
            self._events.record_events(events)
        except Exception as exc:
            for notice in notices:
                log.warning("e911.notify.event_failed", call_ref=notice.call_ref,
                            error=type(exc).__name__)

    # -- reading ------------------------------------------------------------------------

    def get_call(self, call_ref: str) -> CallNotifications | None:
        """The call's notification with every delivery (by contact position), or None."""
        with self._db.read() as conn:
            head = conn.execute(sa.select(N).where(N.c.call_ref == call_ref)).first()
            if head is None:
                return None
            rows = conn.execute(
                sa.select(D).where(D.c.call_ref == call_ref).order_by(D.c.position)
            ).all()
        return CallNotifications(
            notice=_notice_from(head), recorded_at=head.recorded_at,
            via_spool=bool(head.via_spool), deliveries=tuple(_delivery_from(r) for r in rows),
        )

    def list_deliveries(
        self, states: Sequence[DeliveryState] | None = None, *, limit: int = 100
    ) -> list[Delivery]:
        """Deliveries in `states` (all when None), oldest first."""
        query = sa.select(D)
        if states is not None:
            query = query.where(D.c.state.in_([s.value for s in states]))
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(D.c.created_at, D.c.id).limit(limit)).all()
        return [_delivery_from(r) for r in rows]

    def stats(self) -> OutboxStats:
        with self._db.read() as conn:
            counts: dict[str, int] = {
                str(state): int(n) for state, n in conn.execute(
                    sa.select(D.c.state, sa.func.count()).group_by(D.c.state)).all()}
            oldest = conn.scalar(
                sa.select(sa.func.min(D.c.created_at))
                .where(D.c.state.in_([s.value for s in OPEN_STATES]))
            )
        by_state = {state.value: int(counts.get(state.value, 0)) for state in DeliveryState}
        return OutboxStats(by_state, oldest)

    # -- the sender's side --------------------------------------------------------------

    def sending_owners(self) -> set[str]:
        """Lease owners of rows now in `sending` (to spot leases held by dead processes)."""
        with self._db.read() as conn:
            return {o for o in conn.scalars(
                sa.select(D.c.lease_owner).where(D.c.state == DeliveryState.SENDING.value)
                .distinct()) if o}

    def claim_due(
        self, owner: str, *, now: datetime, lease: timedelta, limit: int = 20,
        dead_owners: Sequence[str] = (),
    ) -> list[Claim]:
        """Lease up to `limit` deliveries that are due: pending or retrying whose time has
        come, and `sending` rows whose lease ran out or whose owner process is dead.

        A reclaimed `sending` row whose previous attempt had started the message data is
        marked `possible_duplicate` (docs/notifications.md, "Exactly once?"). PostgreSQL:
        `FOR UPDATE SKIP LOCKED`, so several senders never take the same row; SQLite: the
        write lock serialises claims.
        """
        due = sa.or_(
            sa.and_(D.c.state.in_([DeliveryState.PENDING.value, DeliveryState.RETRYING.value]),
                    D.c.next_attempt_at <= now),
            sa.and_(D.c.state == DeliveryState.SENDING.value,
                    sa.or_(D.c.lease_until < now, D.c.lease_owner.in_(list(dead_owners)))),
        )
        # A read first: an idle sender polls often, and on SQLite the claim's write
        # transaction takes the database's single write lock.
        with self._db.read() as conn:
            if conn.scalar(sa.select(D.c.id).where(due).limit(1)) is None:
                return []
        with self._db.write() as conn:
            rows = conn.execute(
                sa.select(D).where(due)
                .order_by(D.c.next_attempt_at, D.c.call_ref, D.c.position).limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return []
            ids = [r.id for r in rows]
            conn.execute(
                D.update().where(D.c.id.in_(ids)).values(
                    possible_duplicate=sa.or_(D.c.possible_duplicate,
                                              D.c.data_started_at.is_not(None)),
                    state=DeliveryState.SENDING.value, lease_owner=owner,
                    lease_until=now + lease, attempts=D.c.attempts + 1,
                    last_attempt_at=now, data_started_at=None,
                )
            )
            claimed = conn.execute(sa.select(D).where(D.c.id.in_(ids))).all()
            refs = {r.call_ref for r in claimed}
            heads = {h.call_ref: _notice_from(h) for h in conn.execute(
                sa.select(N).where(N.c.call_ref.in_(refs))).all()}
        return [Claim(_delivery_from(r), heads[r.call_ref], owner)
                for r in sorted(claimed, key=lambda r: (r.next_attempt_at, r.call_ref,
                                                        r.position))]

    def mark_data_started(self, claim: Claim, *, now: datetime) -> bool:
        """Record that the message data is about to go: from here on a crash leaves it
        unknown whether the server accepted it. False when the lease was lost."""
        return self._update_owned(claim, data_started_at=now)

    def mark_sent(self, claim: Claim, *, reply: str, now: datetime) -> bool:
        """The server accepted the message. False when the lease was lost meanwhile (another
        sender took the row over: it will send again, flagged as a possible duplicate)."""
        return self._update_owned(
            claim, state=DeliveryState.SENT.value, sent_at=now,
            smtp_reply=reply[:ERROR_TEXT_LIMIT], lease_owner=None, lease_until=None,
            data_started_at=None, last_error=None,
        )

    def mark_retry(
        self, claim: Claim, *, error: str, next_attempt_at: datetime, maybe_accepted: bool
    ) -> bool:
        """A temporary failure; try again at `next_attempt_at`. `maybe_accepted`: the
        connection broke after the final dot, so the server may have the message."""
        values: dict[str, Any] = {
            "state": DeliveryState.RETRYING.value, "next_attempt_at": next_attempt_at,
            "last_error": error[:ERROR_TEXT_LIMIT], "lease_owner": None, "lease_until": None,
            "data_started_at": None,
        }
        if maybe_accepted:
            values["possible_duplicate"] = True
        return self._update_owned(claim, **values)

    def mark_failed(self, claim: Claim, *, error: str, maybe_accepted: bool = False) -> bool:
        values: dict[str, Any] = {
            "state": DeliveryState.FAILED.value, "last_error": error[:ERROR_TEXT_LIMIT],
            "lease_owner": None, "lease_until": None, "data_started_at": None,
        }
        if maybe_accepted:
            values["possible_duplicate"] = True
        return self._update_owned(claim, **values)

    def _update_owned(self, claim: Claim, **values: Any) -> bool:
        with self._db.write() as conn:
            done = conn.execute(
                D.update().where(
                    D.c.id == claim.delivery.id,
                    D.c.state == DeliveryState.SENDING.value,
                    D.c.lease_owner == claim.owner,
                ).values(**values)
            ).rowcount
        return bool(done)

    def retry_now(self, call_ref: str | None = None, *, now: datetime) -> int:
        """Make retrying (and failed) deliveries due at once: an operator's "SMTP is fixed,
        send now" (`e911-router notify retry`). Returns how many rows changed."""
        query = D.update().where(
            D.c.state.in_([DeliveryState.RETRYING.value, DeliveryState.FAILED.value]))
        if call_ref is not None:
            query = query.where(D.c.call_ref == call_ref)
        with self._db.write() as conn:
            return int(conn.execute(
                query.values(state=DeliveryState.RETRYING.value, next_attempt_at=now)
            ).rowcount)

    def release(self, claims: Sequence[Claim]) -> int:
        """Give claimed deliveries back untried, in one transaction: the SMTP server could not
        be reached, so the sender stopped its pass (docs/notifications.md, "SMTP server
        outage"). The attempt `claim_due` counted is taken back; a row never tried before is
        `pending` again (and `last_attempt_at` NULL), any other `retrying`; `next_attempt_at`
        is unchanged, so each is due as soon as a sender gets through, oldest first, and
        `possible_duplicate` (set by a take-over) stays. Only rows still leased by their
        claim's owner change. Returns how many did."""
        by_owner: dict[str, list[str]] = {}
        for claim in claims:
            by_owner.setdefault(claim.owner, []).append(claim.delivery.id)
        if not by_owner:
            return 0
        never_tried = D.c.attempts <= 1
        released = 0
        with self._db.write() as conn:
            for owner, ids in by_owner.items():
                released += int(conn.execute(
                    D.update().where(
                        D.c.id.in_(ids), D.c.state == DeliveryState.SENDING.value,
                        D.c.lease_owner == owner,
                    ).values(
                        state=sa.case((never_tried, DeliveryState.PENDING.value),
                                      else_=DeliveryState.RETRYING.value),
                        attempts=sa.case((D.c.attempts > 0, D.c.attempts - 1), else_=0),
                        last_attempt_at=sa.case((never_tried, None),
                                                else_=D.c.last_attempt_at),
                        lease_owner=None, lease_until=None, data_started_at=None,
                    )
                ).rowcount)
        return released


def _notification_row(notice: EmergencyCallNotice, via_spool: bool, when: datetime
                      ) -> dict[str, Any]:
    return {
        "call_ref": notice.call_ref, "account_id": notice.account_id,
        "sip_user": notice.sip_user, "sip_call_id": notice.sip_call_id,
        "test_call": notice.test_call, "language": notice.language,
        "caller_display_name": notice.caller_display_name,
        "callback_number": notice.callback_number,
        "address_lines": list(notice.address_lines)
        if notice.address_lines is not None else None,
        "dialed": notice.dialed, "invite_at": notice.placed_at, "recorded_at": when,
        "via_spool": via_spool, "e911_disabled": notice.e911_disabled,
    }


def _notice_from(row: Row[Any]) -> EmergencyCallNotice:
    lines = row.address_lines
    return EmergencyCallNotice(
        call_ref=row.call_ref, account_id=row.account_id, placed_at=row.invite_at,
        caller_display_name=row.caller_display_name or "",
        callback_number=row.callback_number or "",
        address_lines=tuple(str(x) for x in lines) if lines is not None else None,
        test_call=bool(row.test_call), language=row.language, sip_user=row.sip_user,
        sip_call_id=row.sip_call_id, dialed=row.dialed,
        e911_disabled=bool(row.e911_disabled),
    )


def _delivery_from(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id, call_ref=row.call_ref, position=row.position, recipient=row.recipient,
        message_id=row.message_id, state=DeliveryState(row.state), attempts=row.attempts,
        next_attempt_at=row.next_attempt_at, last_error=row.last_error,
        last_attempt_at=row.last_attempt_at, sent_at=row.sent_at, smtp_reply=row.smtp_reply,
        possible_duplicate=bool(row.possible_duplicate), created_at=row.created_at,
    )
