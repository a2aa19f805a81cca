"""The event feed the SSE stream (router/api) and the webhook sender (router/notify) read:
stored events, by sequence.

Events are rows of the store's `events` table, written by whoever observed them (the
location view writes `network.changed`, the call path `emergency_call.started`, the
notification sender `notification.sent` / `notification.failed`). Readers never get pushed
anything: they poll for rows after the last `seq` they handled, which is also the SSE `id`,
so a client resuming with `Last-Event-ID` misses nothing and sees nothing twice.
"""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa

from router.db import schema
from router.location.model import Event
from router.store.store import Store

PUBLIC_EVENT_TYPES: Final[tuple[str, ...]] = (
    "network.changed",
    "emergency_call.started",
    "notification.sent",
    "notification.failed",
)
"""The event types the API publishes (SSE and webhook). Other types the store may hold are
internal and never leave the router."""


def latest_seq(store: Store, account_id: str | None = None) -> int:
    """The newest event's `seq` (0 when there is none): where a new stream starts."""
    e = schema.events
    query = sa.select(sa.func.max(e.c.seq))
    if account_id is not None:
        query = query.where(e.c.account_id == account_id)
    with store.engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def events_after(store: Store, after_seq: int, *, limit: int = 100) -> list[Event]:
    """Public events of every account after `after_seq`, oldest first (the webhook's
    reader; `Store.list_events` is per account)."""
    e = schema.events
    query = (sa.select(e).where(e.c.seq > after_seq, e.c.type.in_(PUBLIC_EVENT_TYPES))
             .order_by(e.c.seq).limit(limit))
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [_event(r) for r in rows]


def _event(row: Any) -> Event:
    return Event(seq=int(row.seq), id=row.id, type=row.type, account_id=row.account_id,
                 sip_user=row.sip_user, network=row.network, data=dict(row.data),
                 created_at=row.created_at)
