"""Events and the change feed.

Events: the append-only log the SSE stream and webhooks read (`list_events`), written by
the API, the notifier, and by device sightings (a call, a PBX registration) that may prompt
the user with `network.changed`.

The change feed: `change_seq` is bumped (`bump`) in the same transaction as every change to
accounts, contacts, users, addresses, bindings and networks, and each step is logged in
`change_log` with what it touched, so the `LocationView` reloads only that.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection, Row

from router.db import schema
from router.db.errors import InvalidValue
from router.location.bindings import IPAddress, contains, network_of, parse_ip
from router.location.model import Event, EventType, NewEvent
from router.store.base import StoreBase, utc_now
from router.store.ids import new_id

log = structlog.get_logger(__name__)

CHANGE_LOG_KEEP: Final = 50_000
"""Change-log rows kept; a view further behind than this reloads everything."""


class ChangeScope(StrEnum):
    """What a `change_seq` step touched, i.e. what the view must re-read."""

    ACCOUNT = "account"
    """The account row or its contacts."""
    USER = "user"
    """One user: the user row, their addresses or bindings."""
    NETWORKS = "networks"
    """The account's admin networks."""


def bump(conn: Connection, scope: ChangeScope, account_id: str, sip_user: str | None = None
         ) -> None:
    """Step `change_seq` and log what changed, in the caller's transaction.

    The UPDATE keeps the counter row locked until commit, so steps commit in order.
    """
    seq = conn.execute(
        schema.change_seq.update()
        .where(schema.change_seq.c.id == 1)
        .values(seq=schema.change_seq.c.seq + 1)
        .returning(schema.change_seq.c.seq)
    ).scalar_one()
    conn.execute(
        schema.change_log.insert().values(
            seq=seq, scope=scope.value, account_id=account_id, sip_user=sip_user
        )
    )
    if seq % 1000 == 0:
        conn.execute(
            schema.change_log.delete().where(schema.change_log.c.seq <= seq - CHANGE_LOG_KEEP)
        )


class EventsStore(StoreBase):
    """The change counter, the event log and device sightings."""

    def change_seq(self) -> int:
        """The counter bumped by every change the view mirrors; cheap to poll."""
        with self._db.read() as conn:
            return int(conn.scalar(sa.select(schema.change_seq.c.seq)) or 0)

    def change_seq_reader(self) -> ChangeSeqReader:
        """`change_seq()` for a hot path (the front reads it before every decision, issue 19):
        one driver connection of its own in autocommit (each read sees the last commit, no
        transaction is left open), one fixed statement. Measured on SQLite: about a tenth of
        `change_seq()`'s CPU (no pool checkout, no transaction, no statement compilation).
        The caller closes it; after an error it is unusable (open another)."""
        raw = self._db.engine.raw_connection()
        driver = raw.driver_connection
        if self._db.dialect == "postgresql":
            driver.autocommit = True  # type: ignore[union-attr]
        else:
            driver.isolation_level = None  # type: ignore[union-attr]  # sqlite3: autocommit
        return ChangeSeqReader(raw)


    def record_event(
        self,
        account_id: str,
        type_: str,
        data: Mapping[str, Any],
        *,
        sip_user: str | None = None,
        network: str | None = None,
        now: datetime | None = None,
    ) -> Event:
        """Append an event (the SSE stream and webhooks read them with `list_events`)."""
        return self.record_events(
            [NewEvent(account_id, type_, data, sip_user=sip_user, network=network)], now=now
        )[0]

    def record_events(self, events: Sequence[NewEvent], *, now: datetime | None = None
                      ) -> list[Event]:
        """`record_event` for each of `events`, in order, in one transaction (one commit: on
        SQLite one fsync). A batch of 911 notices writes its `emergency_call.started` events
        with one call; if anything fails, none is written."""
        if not events:
            return []
        when = now or utc_now()
        with self._db.write() as conn:
            return [_append_event(conn, e.account_id, e.type, dict(e.data), e.sip_user,
                                  e.network, when) for e in events]

    def record_network_seen(
        self, account_id: str, sip_user: str, ip: str, *, now: datetime | None = None
    ) -> Event | None:
        """A device of this user was seen at `ip` (a call). Records `network.changed` when the
        user has saved addresses, none bound to that network, and no event for the same user and
        network within `network_event_window`; returns the event, or None when nothing was due."""
        address, network = self._device_network(ip)
        when = now or utc_now()
        with self._db.write() as conn:
            recorded = (self._network_change_due(conn, account_id, sip_user, address, network,
                                                 when)
                        if _lock_user(conn, account_id, sip_user) else None)
        if recorded is not None:
            log.info("e911.location.network_changed", account_id=account_id,
                     event_id=recorded.id, seen_by="call")
        return recorded

    def record_registration(
        self, account_id: str, sip_user: str, ip: str, *, contact: str, registered: bool,
        expires_seconds: int, now: datetime | None = None,
    ) -> Event | None:
        """A trusted PBX reports a device (`contact`) of this user registered at `ip` for
        `expires_seconds`, or gone (`registered=False`). A device arriving on a network where
        none of the user's devices is registered is a sighting, judged by the same rule as a
        call's (`record_network_seen`); a re-registration, or another device of the user
        already registered there, is silent. Returns the event, or None."""
        address, network = self._device_network(ip)
        if expires_seconds < 0:
            raise InvalidValue("expires", "must be 0 or more seconds")
        when = now or utc_now()
        key = hashlib.sha256(contact.encode("utf-8", "surrogatepass")).hexdigest()
        r = schema.registrations
        mine = (r.c.account_id == account_id, r.c.sip_user == sip_user)
        with self._db.write() as conn:
            if not _lock_user(conn, account_id, sip_user):
                return None  # a user the store does not know has nothing to prompt for
            conn.execute(r.delete().where(*mine, r.c.expires_at <= when))
            # Still registered there (this device refreshing, or another of the user's)?
            present = conn.scalar(sa.select(r.c.contact_sha256)
                                  .where(*mine, r.c.network == network).limit(1))
            conn.execute(r.delete().where(*mine, r.c.contact_sha256 == key))
            if not registered or expires_seconds == 0:
                return None
            conn.execute(r.insert().values(
                account_id=account_id, sip_user=sip_user, contact_sha256=key, network=network,
                device_ip=str(address), expires_at=when + timedelta(seconds=expires_seconds),
                updated_at=when))
            recorded = (None if present is not None else
                        self._network_change_due(conn, account_id, sip_user, address, network,
                                                 when))
        if recorded is not None:
            log.info("e911.location.network_changed", account_id=account_id,
                     event_id=recorded.id, seen_by="registration")
        return recorded

    def _device_network(self, ip: str) -> tuple[IPAddress, str]:
        try:
            address = parse_ip(ip)
            return address, str(network_of(address, self.bind_prefixes))
        except ValueError as exc:
            raise InvalidValue("ip", str(exc)) from exc

    def _network_change_due(
        self, conn: Connection, account_id: str, sip_user: str, address: IPAddress,
        network: str, when: datetime,
    ) -> Event | None:
        """The one rule, for calls and registrations alike (the user row is locked): a user
        with saved addresses seen on a network none of them is bound to gets one
        `network.changed` a `network_event_window`; a known network re-binds silently (its
        binding simply applies again)."""
        a, b, e = schema.addresses, schema.bindings, schema.events
        has_address = conn.scalar(
            sa.select(a.c.id).where(a.c.account_id == account_id, a.c.sip_user == sip_user)
            .limit(1)
        )
        if has_address is None:
            return None
        networks = conn.scalars(
            sa.select(b.c.network).where(
                b.c.account_id == account_id, b.c.sip_user == sip_user
            )
        )
        if any(contains(bound, address) for bound in networks):
            return None
        recent = conn.scalar(
            sa.select(e.c.seq)
            .where(
                e.c.account_id == account_id,
                e.c.sip_user == sip_user,
                e.c.type == EventType.NETWORK_CHANGED.value,
                e.c.network == network,
                e.c.created_at > when - self.network_event_window,
            )
            .limit(1)
        )
        if recent is not None:
            return None
        data = {"user": sip_user, "network": network, "ip": str(address)}
        return _append_event(
            conn, account_id, EventType.NETWORK_CHANGED.value, data, sip_user, network, when
        )

    def list_events(
        self,
        account_id: str,
        *,
        sip_user: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
        types: Iterable[str] | None = None,
    ) -> list[Event]:
        """Events after `after_seq`, oldest first; `sip_user` limits them to one user's."""
        if not 1 <= limit <= 1000:
            raise InvalidValue("limit", "must be 1..1000")
        e = schema.events
        query = sa.select(e).where(e.c.account_id == account_id, e.c.seq > after_seq)
        if sip_user is not None:
            query = query.where(e.c.sip_user == sip_user)
        if types is not None:
            query = query.where(e.c.type.in_(list(types)))
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(e.c.seq).limit(limit)).all()
        return [_event_from(r) for r in rows]


def _lock_user(conn: Connection, account_id: str, sip_user: str) -> bool:
    """Lock the user row (False: no such user): two hosts seeing the same device, or a
    call and a registration at once, write one event, not two."""
    u = schema.users
    return conn.execute(
        sa.select(u.c.sip_user)
        .where(u.c.account_id == account_id, u.c.sip_user == sip_user)
        .with_for_update()
    ).first() is not None


def _append_event(
    conn: Connection,
    account_id: str,
    type_: str,
    data: dict[str, Any],
    sip_user: str | None,
    network: str | None,
    when: datetime,
) -> Event:
    event_id = new_id("evt")
    seq = conn.execute(
        schema.events.insert()
        .values(
            id=event_id, type=type_, account_id=account_id, sip_user=sip_user,
            network=network, data=data, created_at=when,
        )
        .returning(schema.events.c.seq)
    ).scalar_one()
    return Event(int(seq), event_id, type_, account_id, sip_user, network, data, when)


def _event_from(row: Row[Any]) -> Event:
    return Event(
        seq=int(row.seq), id=row.id, type=row.type, account_id=row.account_id,
        sip_user=row.sip_user, network=row.network, data=dict(row.data),
        created_at=row.created_at,
    )


class ChangeSeqReader:
    """See `EventsStore.change_seq_reader`."""

    SQL: Final = "SELECT seq FROM change_seq"  # schema.change_seq (a test checks the name)

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._cursor = raw.cursor()

    def __call__(self) -> int:
        self._cursor.execute(self.SQL)
        row = self._cursor.fetchone()
        return int(row[0] or 0) if row is not None else 0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._cursor.close()
        with contextlib.suppress(Exception):
            self._raw.invalidate()  # its settings differ from the pool's: never reused
