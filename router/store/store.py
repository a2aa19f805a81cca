"""The location store: accounts, users, saved addresses, bindings, admin networks, events and
the MSAG extract, on SQLite (the embedded default) or PostgreSQL (several hosts), through one
SQLAlchemy Core schema (`router.db`).

Synchronous and thread-safe: every call takes a pooled connection for one transaction and
gives it back. The SIP thread never calls the store on the call path; it reads the in-memory
`LocationView`, which polls `change_seq()` (bumped in the same transaction as every change to
accounts, contacts, users, addresses, bindings and networks) and reloads when it moves.

`Store` is composed of one part per aggregate (the sibling modules of this one); each part
is a `StoreBase` over the shared transactions, so `store.get_account(...)` and
`store.locate(...)` are methods of the one object.
"""

from __future__ import annotations

from datetime import timedelta

from router.db.engine import make_engine
from router.location.bindings import BindPrefixes
from router.store.accounts import AccountsStore
from router.store.addresses import AddressesStore
from router.store.base import DEFAULT_NETWORK_EVENT_WINDOW
from router.store.events import EventsStore
from router.store.msag import MsagStore
from router.store.networks import NetworksStore
from router.store.view_feed import ViewFeed


class Store(AccountsStore, AddressesStore, NetworksStore, EventsStore, MsagStore, ViewFeed):
    """See the module docstring. Build with `open_store()`."""


def open_store(
    database_url: str,
    *,
    bind_prefixes: BindPrefixes | None = None,
    network_event_window: timedelta = DEFAULT_NETWORK_EVENT_WINDOW,
    migrate: bool = True,
) -> Store:
    """Open (and by default migrate) the store at `database_url` (`E911_DATABASE_URL`)."""
    store = Store(
        make_engine(database_url),
        bind_prefixes=bind_prefixes or BindPrefixes(),
        network_event_window=network_event_window,
    )
    if migrate:
        store.migrate()
    return store
