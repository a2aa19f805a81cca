"""What every part of the store shares: the engine's transactions, the binding settings, the
lifecycle (migrate, ping, close) and the clock.

Synchronous and thread-safe: every call takes a pooled connection for one transaction and
gives it back. The SIP thread never calls the store on the call path; it reads the in-memory
`LocationView`, which polls `change_seq()` and reloads when it moves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine

from router.db import migrations
from router.db.transactions import Transactions
from router.location.bindings import BindPrefixes
from router.redaction import redact_url

log = structlog.get_logger(__name__)

DEFAULT_NETWORK_EVENT_WINDOW = timedelta(minutes=10)
"""One `network.changed` per user and network in this window: a softphone that re-INVITEs
every few seconds from a new network prompts its user once, not on every call."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    """The shared state of the store's parts; `router.store.store.Store` composes them."""

    def __init__(
        self,
        engine: Engine,
        *,
        bind_prefixes: BindPrefixes,
        network_event_window: timedelta = DEFAULT_NETWORK_EVENT_WINDOW,
    ) -> None:
        self._db = Transactions(engine)
        self.bind_prefixes = bind_prefixes
        self.network_event_window = network_event_window

    @property
    def dialect(self) -> Literal["sqlite", "postgresql"]:
        return self._db.dialect

    @property
    def engine(self) -> Engine:
        """For migrations, tests and the benchmark's bulk loader; the API is the methods."""
        return self._db.engine

    def describe(self) -> str:
        """The URL without its passwords (userinfo and query, `redact_url`), for logs."""
        return redact_url(self._db.engine.url.render_as_string(hide_password=False))

    def migrate(self) -> list[int]:
        applied = migrations.migrate(self._db.engine)
        if applied:
            log.info("e911.store.migrated", versions=applied, dialect=self.dialect)
        return applied

    def schema_version(self) -> int:
        return migrations.current_version(self._db.engine)

    def close(self) -> None:
        self._db.engine.dispose()

    def ping(self) -> bool:
        """True when the database answers a query (health checks; never raises)."""
        try:
            with self._db.engine.connect() as conn:
                conn.execute(sa.select(1))
            return True
        except Exception:
            log.warning("e911.store.ping_failed", dialect=self.dialect, exc_info=True)
            return False
