"""The location store: accounts, users, saved addresses, bindings, admin networks, events and
the MSAG extract, on SQLite (the embedded default) or PostgreSQL (several hosts), through one
SQLAlchemy Core schema.

Synchronous and thread-safe: every call takes a pooled connection for one transaction and
gives it back. The SIP thread never calls this module on the call path; it reads the in-memory
`LocationView`, which polls `change_seq()` (bumped in the same transaction as every change to
accounts, contacts, users, addresses, bindings and networks) and reloads when it moves.

Users see only their own data: every user-scoped method takes (account_id, sip_user) and
filters on both, so another user's row is indistinguishable from a missing one (`NotFound`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from ipaddress import ip_network
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

import psycopg
import sqlalchemy as sa
import structlog
from sqlalchemy import event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from router.location import migrations, schema
from router.location.bindings import (
    BindPrefixes,
    IPAddress,
    address_hex,
    contains,
    network_of,
    network_range_hex,
    parse_cidr,
    parse_ip,
)
from router.location.civic import CivicAddress
from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    E164,
    LANGUAGES,
    MAX_EMERGENCY_CONTACTS,
    Account,
    Binding,
    Callback,
    CallbackPreference,
    Event,
    EventType,
    Located,
    Location,
    LocationSource,
    MsagVersion,
    Network,
    NewEvent,
    Page,
    SavedAddress,
    Unlocated,
    UnlocatedReason,
    User,
    ValidatedAddress,
)
from router.location.msag import MsagImport, MsagRow
from router.redaction import redact_url

log = structlog.get_logger(__name__)

MAX_PAGE: Final = 100
DEFAULT_NETWORK_EVENT_WINDOW = timedelta(minutes=10)
"""One `network.changed` per user and network in this window: a softphone that re-INVITEs
every few seconds from a new network prompts its user once, not on every call."""

CHANGE_LOG_KEEP: Final = 50_000
"""Change-log rows kept; a view further behind than this reloads everything."""

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


class ChangeScope(StrEnum):
    """What a `change_seq` step touched, i.e. what the view must re-read."""

    ACCOUNT = "account"
    """The account row or its contacts."""
    USER = "user"
    """One user: the user row, their addresses or bindings."""
    NETWORKS = "networks"
    """The account's admin networks."""


# --- errors ------------------------------------------------------------------------------


class StoreError(Exception):
    """Base of the store's own errors (database outages surface as SQLAlchemy errors)."""


class NotFound(StoreError):
    """No such record *for this caller*: another user's record is reported the same way."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(StoreError):
    """The change contradicts stored state (a duplicate, a record still in use)."""


class EnableRefused(Conflict):
    """Emergency calling cannot be enabled until these settings are present."""

    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__("emergency settings incomplete: " + ", ".join(missing))
        self.missing = tuple(missing)


class InvalidValue(StoreError, ValueError):
    """An argument the store will not keep (bad IP, non-E.164 number, 11 contacts...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class MsagRejected(InvalidValue):
    """The database refused a row of the extract (a constraint); the old one stays."""

    def __init__(self, message: str) -> None:
        super().__init__("msag", message)


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""Default of `update_account` keywords: leave that setting as it is."""


# --- ids, JSON, engines ---------------------------------------------------------------------


def new_id(prefix: str) -> str:
    """An opaque id like `adr_01j9...`: 48 bits of milliseconds then 80 random bits, in
    Crockford base32, so ids sort in creation order and cursor pagination is `id > cursor`."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def civic_to_json(civic: CivicAddress) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(civic):
        value = getattr(civic, f.name)
        if f.name == "extras":
            if value:
                out["extras"] = [list(pair) for pair in value]
        elif value:
            out[f.name] = value
    return out


_CIVIC_FIELDS = frozenset(f.name for f in fields(CivicAddress))


def civic_from_json(data: Mapping[str, Any]) -> CivicAddress:
    """Rebuild a `CivicAddress`; keys a later version dropped are ignored."""
    values = {k: v for k, v in data.items() if k in _CIVIC_FIELDS}
    if "extras" in values:
        values["extras"] = tuple((str(a), str(b)) for a, b in values["extras"])
    return CivicAddress(**values)


def engine_url(database_url: str) -> sa.URL:
    """`E911_DATABASE_URL` -> the SQLAlchemy URL: PostgreSQL always through psycopg 3."""
    url = sa.make_url(database_url)
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise InvalidValue("database_url", "SQLite needs a file (sqlite:///var/e911.db)")
        return url.set(drivername="sqlite+pysqlite")
    raise InvalidValue("database_url", f"unsupported database {backend!r}: sqlite or postgresql")


def make_engine(database_url: str) -> Engine:
    """An engine with the pool and per-connection settings each backend needs."""
    url = engine_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, pool_size=8, max_overflow=8, pool_timeout=30)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 5
    return sa.create_engine(
        url, pool_size=8, max_overflow=8, pool_pre_ping=True, connect_args=connect_args
    )


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (below): pysqlite's implicit transactions would not cover
    # SELECTs, and a deferred BEGIN that later writes can fail with SQLITE_BUSY at once
    # instead of waiting for busy_timeout.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    _sqlite_use_wal(cursor)
    for pragma in (
        "PRAGMA synchronous=FULL",  # a committed binding or outbox row survives power loss
        "PRAGMA foreign_keys=ON",  # cascades: deleting an address removes its bindings
    ):
        cursor.execute(pragma)
    cursor.close()


_SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_use_wal(cursor: Any) -> None:
    """Put the database in WAL mode (readers, such as the view, never block the writer).

    WAL is stored in the file, so this is a read on every connection but the first. The
    switch itself needs the write lock and SQLite does NOT call the busy handler for it: a
    connection opened while another holds the lock (a migration on a brand-new file) gets
    "database is locked" at once. So wait for the lock here, as busy_timeout would.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _sqlite_on_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get("e911_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


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


# --- view rows ---------------------------------------------------------------------------------


class UserRow(NamedTuple):
    """A user's settings as the view keeps them (no timestamps: lighter for 100,000)."""

    account_id: str
    sip_user: str
    display_name: str
    callback_number: str | None
    language: str | None
    callback_preference: str


class BindingRow(NamedTuple):
    account_id: str
    sip_user: str
    network: str
    address_id: str


@dataclass(frozen=True, slots=True)
class ViewRows:
    """Everything the in-memory view holds, read in one consistent transaction."""

    seq: int
    accounts: tuple[Account, ...]
    users: tuple[UserRow, ...]
    users_with_addresses: frozenset[tuple[str, str]]
    bindings: tuple[BindingRow, ...]
    addresses: Mapping[str, ValidatedAddress]
    """Bound addresses the caller did not already know (see `load_view_rows`)."""
    networks: tuple[Network, ...]


@dataclass(frozen=True, slots=True)
class ViewChanges:
    """What changed since a view's snapshot (see `Store.load_view_changes`)."""

    seq: int
    accounts: tuple[Account, ...] | None
    """Every account, when one changed (accounts are few); None when none did."""
    networks: tuple[Network, ...] | None
    """Every admin network, when one changed; None when none did."""
    users: frozenset[tuple[str, str]]
    """(account, SIP user) pairs whose row, addresses or bindings changed."""
    user_rows: tuple[UserRow, ...]
    """Their rows now (a user missing here was deleted)."""
    users_with_addresses: frozenset[tuple[str, str]]
    """Which of them have saved addresses now."""
    bindings: tuple[BindingRow, ...]
    """Their bindings now."""
    addresses: Mapping[str, ValidatedAddress]
    """Bound addresses the view did not know."""


# --- the store ---------------------------------------------------------------------------------


class Store:
    """See the module docstring. Build with `open_store()`."""

    def __init__(
        self,
        engine: Engine,
        *,
        bind_prefixes: BindPrefixes,
        network_event_window: timedelta = DEFAULT_NETWORK_EVENT_WINDOW,
    ) -> None:
        self._engine = engine
        self.bind_prefixes = bind_prefixes
        self.network_event_window = network_event_window

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def dialect(self) -> Literal["sqlite", "postgresql"]:
        return "sqlite" if self._engine.dialect.name == "sqlite" else "postgresql"

    @property
    def engine(self) -> Engine:
        """For migrations, tests and the benchmark's bulk loader; the API is the methods."""
        return self._engine

    def describe(self) -> str:
        """The URL without its passwords (userinfo and query, `redact_url`), for logs."""
        return redact_url(self._engine.url.render_as_string(hide_password=False))

    def migrate(self) -> list[int]:
        applied = migrations.migrate(self._engine)
        if applied:
            log.info("e911.store.migrated", versions=applied, dialect=self.dialect)
        return applied

    def schema_version(self) -> int:
        return migrations.current_version(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def ping(self) -> bool:
        """True when the database answers a query (health checks; never raises)."""
        try:
            with self._engine.connect() as conn:
                conn.execute(sa.select(1))
            return True
        except Exception:
            log.warning("e911.store.ping_failed", dialect=self.dialect, exc_info=True)
            return False

    def change_seq(self) -> int:
        """The counter bumped by every change the view mirrors; cheap to poll."""
        with self._read() as conn:
            return int(conn.scalar(sa.select(schema.change_seq.c.seq)) or 0)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(e911_write=True)
            with conn.begin():
                yield conn

    @staticmethod
    def _bump(
        conn: Connection, scope: ChangeScope, account_id: str, sip_user: str | None = None
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

    def _insert(self) -> Any:
        """The dialect's INSERT with ON CONFLICT support."""
        return pg_dialect.insert if self.dialect == "postgresql" else sqlite_dialect.insert

    # -- accounts -----------------------------------------------------------------------------

    def create_account(
        self, name: str, *, account_id: str | None = None, language: str = "en"
    ) -> Account:
        _check_language("language", language)
        if not name.strip():
            raise InvalidValue("name", "must not be empty")
        now = _now()
        new = account_id or new_id("acct")
        try:
            with self._write() as conn:
                conn.execute(
                    schema.accounts.insert().values(
                        id=new, name=name.strip(), language=language, enabled=False,
                        created_at=now, updated_at=now,
                    )
                )
                self._bump(conn, ChangeScope.ACCOUNT, new)
        except IntegrityError as exc:
            raise Conflict(f"account {new!r} already exists") from exc
        return self.get_account(new)

    def get_account(self, account_id: str = DEFAULT_ACCOUNT_ID) -> Account:
        with self._read() as conn:
            return self._account(conn, account_id)

    def list_accounts(self) -> list[Account]:
        with self._read() as conn:
            return self._accounts(conn)

    def update_account(
        self,
        account_id: str = DEFAULT_ACCOUNT_ID,
        *,
        name: str | _Unset = UNSET,
        language: str | _Unset = UNSET,
        enabled: bool | _Unset = UNSET,
        default_address: ValidatedAddress | _Unset | None = UNSET,
        callback: Callback | _Unset | None = UNSET,
    ) -> Account:
        """Change the given settings. Enabling (or leaving enabled) an account whose address,
        callback or contacts are missing raises `EnableRefused` naming what is missing."""
        values: dict[str, Any] = {}
        if not isinstance(name, _Unset):
            if not name.strip():
                raise InvalidValue("name", "must not be empty")
            values["name"] = name.strip()
        if not isinstance(language, _Unset):
            _check_language("language", language)
            values["language"] = language
        if not isinstance(enabled, _Unset):
            values["enabled"] = enabled
        if not isinstance(default_address, _Unset):
            values.update(
                default_civic=civic_to_json(default_address.civic) if default_address else None,
                default_msag_id=default_address.msag_id if default_address else None,
                default_esn=default_address.esn if default_address else None,
            )
        if not isinstance(callback, _Unset):
            values.update(
                callback_display_name=callback.display_name if callback else None,
                callback_number=callback.number if callback else None,
                callback_language=callback.language if callback else None,
            )
        with self._write() as conn:
            self._account(conn, account_id)
            if values:
                values["updated_at"] = _now()
                conn.execute(
                    schema.accounts.update()
                    .where(schema.accounts.c.id == account_id)
                    .values(**values)
                )
                self._bump(conn, ChangeScope.ACCOUNT, account_id)
            account = self._account(conn, account_id)
            _check_enable(account)
            return account

    def set_contacts(self, account_id: str, emails: Sequence[str]) -> tuple[str, ...]:
        """Replace the account's emergency contacts (at most 10, no duplicates, in order)."""
        cleaned = tuple(e.strip() for e in emails)
        if len(cleaned) > MAX_EMERGENCY_CONTACTS:
            raise InvalidValue(
                "emergency_contacts", f"at most {MAX_EMERGENCY_CONTACTS} contacts"
            )
        if any(not e for e in cleaned):
            raise InvalidValue("emergency_contacts", "empty e-mail address")
        if len({e.casefold() for e in cleaned}) != len(cleaned):
            raise InvalidValue("emergency_contacts", "duplicate e-mail address")
        with self._write() as conn:
            self._account(conn, account_id)
            conn.execute(
                schema.emergency_contacts.delete().where(
                    schema.emergency_contacts.c.account_id == account_id
                )
            )
            if cleaned:
                conn.execute(
                    schema.emergency_contacts.insert(),
                    [
                        {"account_id": account_id, "position": i, "email": e}
                        for i, e in enumerate(cleaned)
                    ],
                )
            self._bump(conn, ChangeScope.ACCOUNT, account_id)
            _check_enable(self._account(conn, account_id))
        return cleaned

    def get_contacts(self, account_id: str = DEFAULT_ACCOUNT_ID) -> tuple[str, ...]:
        return self.get_account(account_id).contacts

    def _account(self, conn: Connection, account_id: str) -> Account:
        found = self._accounts(conn, account_id)
        if not found:
            raise NotFound("account", account_id)
        return found[0]

    @staticmethod
    def _accounts(conn: Connection, account_id: str | None = None) -> list[Account]:
        a, c = schema.accounts, schema.emergency_contacts
        query = sa.select(a).order_by(a.c.id)
        contacts_query = sa.select(c.c.account_id, c.c.email).order_by(
            c.c.account_id, c.c.position
        )
        if account_id is not None:
            query = query.where(a.c.id == account_id)
            contacts_query = contacts_query.where(c.c.account_id == account_id)
        contacts: dict[str, list[str]] = {}
        for owner, email in conn.execute(contacts_query):
            contacts.setdefault(owner, []).append(email)
        return [_account_from(row, tuple(contacts.get(row.id, ()))) for row in conn.execute(query)]

    # -- users ----------------------------------------------------------------------------------

    def upsert_user(
        self,
        account_id: str,
        sip_user: str,
        *,
        display_name: str = "",
        callback_number: str | None = None,
        language: str | None = None,
        callback_preference: CallbackPreference = CallbackPreference.ACCOUNT,
    ) -> User:
        """Create or replace a user's emergency information (PUT semantics)."""
        _check_sip_user(sip_user)
        if callback_number is not None and not E164.match(callback_number):
            raise InvalidValue("callback_number", "must be E.164 (+ and up to 15 digits)")
        if language is not None:
            _check_language("language", language)
        if callback_preference is CallbackPreference.OWN and callback_number is None:
            raise InvalidValue("callback_preference", "'own' needs the user's callback_number")
        now = _now()
        values = {
            "display_name": display_name.strip(),
            "callback_number": callback_number,
            "language": language,
            "callback_preference": callback_preference.value,
            "updated_at": now,
        }
        with self._write() as conn:
            self._account(conn, account_id)
            insert = self._insert()(schema.users).values(
                account_id=account_id, sip_user=sip_user, created_at=now, **values
            )
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[schema.users.c.account_id, schema.users.c.sip_user],
                    set_=values,
                )
            )
            self._bump(conn, ChangeScope.USER, account_id, sip_user)
            return self._user(conn, account_id, sip_user)

    def get_user(self, account_id: str, sip_user: str) -> User:
        with self._read() as conn:
            return self._user(conn, account_id, sip_user)

    def list_users(
        self, account_id: str, *, limit: int = 20, starting_after: str | None = None
    ) -> Page[User]:
        _check_limit(limit)
        u = schema.users
        query = sa.select(u).where(u.c.account_id == account_id).order_by(u.c.sip_user)
        if starting_after is not None:
            query = query.where(u.c.sip_user > starting_after)
        with self._read() as conn:
            rows = conn.execute(query.limit(limit + 1)).all()
        return Page(tuple(_user_from(r) for r in rows[:limit]), len(rows) > limit)

    def delete_user(self, account_id: str, sip_user: str) -> None:
        """Delete a user with its addresses and bindings."""
        with self._write() as conn:
            self._user(conn, account_id, sip_user)
            self._refuse_if_networks_use(
                conn,
                sa.select(schema.addresses.c.id).where(
                    schema.addresses.c.account_id == account_id,
                    schema.addresses.c.sip_user == sip_user,
                ),
            )
            conn.execute(
                schema.users.delete().where(
                    schema.users.c.account_id == account_id, schema.users.c.sip_user == sip_user
                )
            )
            self._bump(conn, ChangeScope.USER, account_id, sip_user)

    def _user(self, conn: Connection, account_id: str, sip_user: str) -> User:
        u = schema.users
        row = conn.execute(
            sa.select(u).where(u.c.account_id == account_id, u.c.sip_user == sip_user)
        ).first()
        if row is None:
            raise NotFound("user", sip_user)
        return _user_from(row)

    def _ensure_user(self, conn: Connection, account_id: str, sip_user: str) -> None:
        """A user who saves an address before anyone set their details gets default ones."""
        now = _now()
        conn.execute(
            self._insert()(schema.users)
            .values(
                account_id=account_id, sip_user=sip_user, display_name="",
                callback_preference=CallbackPreference.ACCOUNT.value,
                created_at=now, updated_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=[schema.users.c.account_id, schema.users.c.sip_user]
            )
        )

    # -- saved addresses --------------------------------------------------------------------

    def add_address(
        self, account_id: str, sip_user: str, address: ValidatedAddress, *, label: str = ""
    ) -> SavedAddress:
        """Save a validated address for a user (the user row is created if missing)."""
        _check_sip_user(sip_user)
        if not isinstance(address, ValidatedAddress):
            raise InvalidValue("address", "only validated addresses are stored")
        new = new_id("adr")
        with self._write() as conn:
            self._account(conn, account_id)
            self._ensure_user(conn, account_id, sip_user)
            conn.execute(
                schema.addresses.insert().values(
                    id=new, account_id=account_id, sip_user=sip_user, label=label.strip(),
                    civic=civic_to_json(address.civic), msag_id=address.msag_id,
                    esn=address.esn, created_at=_now(),
                )
            )
            self._bump(conn, ChangeScope.USER, account_id, sip_user)
            return self._address(conn, account_id, sip_user, new)

    def get_address(self, account_id: str, sip_user: str, address_id: str) -> SavedAddress:
        with self._read() as conn:
            return self._address(conn, account_id, sip_user, address_id)

    def list_addresses(
        self,
        account_id: str,
        sip_user: str,
        *,
        limit: int = 20,
        starting_after: str | None = None,
    ) -> Page[SavedAddress]:
        """A user's addresses, oldest first; pass the last id as `starting_after` for more."""
        _check_limit(limit)
        a = schema.addresses
        query = self._addresses_query().where(
            a.c.account_id == account_id, a.c.sip_user == sip_user
        )
        if starting_after is not None:
            query = query.where(a.c.id > starting_after)
        with self._read() as conn:
            rows = conn.execute(query.order_by(a.c.id).limit(limit + 1)).all()
        return Page(tuple(_saved_from(r) for r in rows[:limit]), len(rows) > limit)

    def delete_address(self, account_id: str, sip_user: str, address_id: str) -> None:
        """Delete a saved address; its bindings go with it (ON DELETE CASCADE)."""
        with self._write() as conn:
            self._address(conn, account_id, sip_user, address_id)
            self._refuse_if_networks_use(conn, [address_id])
            conn.execute(schema.addresses.delete().where(schema.addresses.c.id == address_id))
            self._bump(conn, ChangeScope.USER, account_id, sip_user)

    @staticmethod
    def _addresses_query() -> sa.Select[Any]:
        a, b = schema.addresses, schema.bindings
        return sa.select(
            a,
            b.c.network.label("b_network"),
            b.c.registered_ip.label("b_registered_ip"),
            b.c.bound_at.label("b_bound_at"),
        ).outerjoin(b, b.c.address_id == a.c.id)

    def _address(
        self, conn: Connection, account_id: str, sip_user: str, address_id: str
    ) -> SavedAddress:
        a = schema.addresses
        row = conn.execute(
            self._addresses_query().where(
                a.c.id == address_id, a.c.account_id == account_id, a.c.sip_user == sip_user
            )
        ).first()
        if row is None:
            raise NotFound("address", address_id)
        return _saved_from(row)

    @staticmethod
    def _refuse_if_networks_use(
        conn: Connection, address_ids: sa.Select[Any] | list[str]
    ) -> None:
        n = schema.networks
        using = conn.execute(
            sa.select(n.c.id, n.c.cidr).where(n.c.address_id.in_(address_ids))
        ).all()
        if using:
            # A fixed phone's location must never vanish as a side effect (47 CFR 9.16(b)(3)).
            names = ", ".join(f"{row.id} ({row.cidr})" for row in using)
            raise Conflict(f"address is the location of admin network(s) {names}")

    # -- bindings -------------------------------------------------------------------------------

    def bind(
        self, account_id: str, sip_user: str, address_id: str, ip: str
    ) -> Binding:
        """Bind a saved address to the network of `ip` (the device's registered IP).

        An address has one registered network: binding it again moves it. A user has one
        address per network: another address bound to the same network is unbound.
        """
        try:
            network = str(network_of(ip, self.bind_prefixes))
            registered = str(parse_ip(ip))
        except ValueError as exc:
            raise InvalidValue("ip", str(exc)) from exc
        b = schema.bindings
        now = _now()
        with self._write() as conn:
            self._address(conn, account_id, sip_user, address_id)
            conn.execute(
                b.delete().where(
                    sa.or_(
                        b.c.address_id == address_id,
                        sa.and_(
                            b.c.account_id == account_id,
                            b.c.sip_user == sip_user,
                            b.c.network == network,
                        ),
                    )
                )
            )
            conn.execute(
                b.insert().values(
                    address_id=address_id, account_id=account_id, sip_user=sip_user,
                    network=network, registered_ip=registered, bound_at=now,
                )
            )
            self._bump(conn, ChangeScope.USER, account_id, sip_user)
        return Binding(address_id, account_id, sip_user, network, registered, now)

    def clear_binding(self, account_id: str, sip_user: str, address_id: str) -> bool:
        """Explicitly drop an address's binding; False when it had none."""
        b = schema.bindings
        with self._write() as conn:
            self._address(conn, account_id, sip_user, address_id)
            removed = conn.execute(b.delete().where(b.c.address_id == address_id)).rowcount
            if removed:
                self._bump(conn, ChangeScope.USER, account_id, sip_user)
        return bool(removed)

    def bindings_for_user(self, account_id: str, sip_user: str) -> list[Binding]:
        b = schema.bindings
        with self._read() as conn:
            rows = conn.execute(
                sa.select(b)
                .where(b.c.account_id == account_id, b.c.sip_user == sip_user)
                .order_by(b.c.network)
            ).all()
        return [_binding_from(r) for r in rows]

    def locate(self, account_id: str, sip_user: str, ip: str) -> Location:
        """The effective location straight from the database (API `GET .../location`).

        Same precedence as `LocationView.locate`: the user's binding for the device's network,
        else the most specific admin network containing the IP, else `Unlocated`.
        """
        try:
            address = parse_ip(ip)
        except ValueError:
            return Unlocated(UnlocatedReason.INVALID_IP)
        a, b, n = schema.addresses, schema.bindings, schema.networks
        with self._read() as conn:
            # A user has a handful of bindings: read them all, test containment here (this
            # also finds bindings made under an older bind-prefix setting).
            bound = [
                r for r in conn.execute(
                    sa.select(b.c.network, a.c.id, a.c.civic, a.c.msag_id, a.c.esn)
                    .join(a, a.c.id == b.c.address_id)
                    .where(b.c.account_id == account_id, b.c.sip_user == sip_user)
                )
                if contains(r.network, address)
            ]
            if bound:
                row = max(bound, key=lambda r: ip_network(r.network).prefixlen)
                return Located(
                    address_id=row.id, civic=civic_from_json(row.civic), msag_id=row.msag_id,
                    esn=row.esn, source=LocationSource.BINDING, network=row.network,
                )
            point = address_hex(address)
            mapped = conn.execute(
                self._networks_query()
                .where(
                    n.c.account_id == account_id,
                    n.c.family == address.version,
                    n.c.first_ip <= point,
                    n.c.last_ip >= point,
                )
                .order_by(n.c.prefix_len.desc())
                .limit(1)
            ).first()
            if mapped is not None:
                return _located_by_network(_network_from(mapped))
            accounts, u = schema.accounts, schema.users
            if conn.scalar(sa.select(accounts.c.id).where(accounts.c.id == account_id)) is None:
                return Unlocated(UnlocatedReason.UNKNOWN_ACCOUNT)
            known = conn.scalar(
                sa.select(u.c.sip_user).where(
                    u.c.account_id == account_id, u.c.sip_user == sip_user
                )
            )
        return Unlocated(UnlocatedReason.NO_BINDING if known else UnlocatedReason.UNKNOWN_USER)

    # -- admin networks ---------------------------------------------------------------------

    def add_network(
        self,
        account_id: str,
        cidr: str,
        *,
        address: ValidatedAddress | None = None,
        address_id: str | None = None,
        label: str = "",
    ) -> Network:
        """Map a CIDR to a validated address (inline) or to a saved address of the account."""
        if (address is None) == (address_id is None):
            raise InvalidValue("address", "give exactly one of address or address_id")
        try:
            network = parse_cidr(cidr)
        except ValueError as exc:
            raise InvalidValue("cidr", str(exc)) from exc
        new = new_id("net")
        a = schema.addresses
        with self._write() as conn:
            self._account(conn, account_id)
            if address_id is not None:
                owner = conn.scalar(
                    sa.select(a.c.account_id).where(a.c.id == address_id)
                )
                if owner != account_id:
                    raise NotFound("address", address_id)
            try:
                with conn.begin_nested():
                    first_ip, last_ip = network_range_hex(network)
                    conn.execute(
                        schema.networks.insert().values(
                            id=new, account_id=account_id, cidr=str(network),
                            family=network.version, prefix_len=network.prefixlen,
                            first_ip=first_ip, last_ip=last_ip,
                            label=label.strip(), address_id=address_id,
                            civic=civic_to_json(address.civic) if address else None,
                            msag_id=address.msag_id if address else None,
                            esn=address.esn if address else None,
                            created_at=_now(),
                        )
                    )
            except IntegrityError as exc:
                raise Conflict(f"network {network} is already mapped") from exc
            self._bump(conn, ChangeScope.NETWORKS, account_id)
            return self._network(conn, account_id, new)

    def get_network(self, account_id: str, network_id: str) -> Network:
        with self._read() as conn:
            return self._network(conn, account_id, network_id)

    def list_networks(
        self, account_id: str, *, limit: int = 20, starting_after: str | None = None
    ) -> Page[Network]:
        _check_limit(limit)
        n = schema.networks
        query = self._networks_query().where(n.c.account_id == account_id)
        if starting_after is not None:
            query = query.where(n.c.id > starting_after)
        with self._read() as conn:
            rows = conn.execute(query.order_by(n.c.id).limit(limit + 1)).all()
        return Page(tuple(_network_from(r) for r in rows[:limit]), len(rows) > limit)

    def delete_network(self, account_id: str, network_id: str) -> None:
        n = schema.networks
        with self._write() as conn:
            self._network(conn, account_id, network_id)
            conn.execute(n.delete().where(n.c.id == network_id))
            self._bump(conn, ChangeScope.NETWORKS, account_id)

    @staticmethod
    def _networks_query() -> sa.Select[Any]:
        n, a = schema.networks, schema.addresses
        return sa.select(
            n,
            a.c.civic.label("a_civic"),
            a.c.msag_id.label("a_msag_id"),
            a.c.esn.label("a_esn"),
        ).outerjoin(a, a.c.id == n.c.address_id)

    def _network(self, conn: Connection, account_id: str, network_id: str) -> Network:
        n = schema.networks
        row = conn.execute(
            self._networks_query().where(n.c.id == network_id, n.c.account_id == account_id)
        ).first()
        if row is None:
            raise NotFound("network", network_id)
        return _network_from(row)

    # -- events -------------------------------------------------------------------------------

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
        when = now or _now()
        with self._write() as conn:
            return [self._append_event(conn, e.account_id, e.type, dict(e.data), e.sip_user,
                                       e.network, when) for e in events]

    def record_network_seen(
        self, account_id: str, sip_user: str, ip: str, *, now: datetime | None = None
    ) -> Event | None:
        """A device of this user was seen at `ip` (a call). Records `network.changed` when the
        user has saved addresses, none bound to that network, and no event for the same user and
        network within `network_event_window`; returns the event, or None when nothing was due."""
        address, network = self._device_network(ip)
        when = now or _now()
        with self._write() as conn:
            recorded = (self._network_change_due(conn, account_id, sip_user, address, network,
                                                 when)
                        if self._lock_user(conn, account_id, sip_user) else None)
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
        when = now or _now()
        key = hashlib.sha256(contact.encode("utf-8", "surrogatepass")).hexdigest()
        r = schema.registrations
        mine = (r.c.account_id == account_id, r.c.sip_user == sip_user)
        with self._write() as conn:
            if not self._lock_user(conn, account_id, sip_user):
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

    @staticmethod
    def _lock_user(conn: Connection, account_id: str, sip_user: str) -> bool:
        """Lock the user row (False: no such user): two hosts seeing the same device, or a
        call and a registration at once, write one event, not two."""
        u = schema.users
        return conn.execute(
            sa.select(u.c.sip_user)
            .where(u.c.account_id == account_id, u.c.sip_user == sip_user)
            .with_for_update()
        ).first() is not None

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
        return self._append_event(
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
        with self._read() as conn:
            rows = conn.execute(query.order_by(e.c.seq).limit(limit)).all()
        return [_event_from(r) for r in rows]

    @staticmethod
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

    # -- MSAG -----------------------------------------------------------------------------------

    def replace_msag(self, import_: MsagImport) -> MsagVersion:
        """Replace the MSAG extract with `import_`'s rows in one transaction.

        A parse with errors is refused; a row the database rejects (a constraint) rolls the
        whole replacement back, so the previous extract stays in force either way.
        """
        if not import_.ok:
            raise InvalidValue("msag", f"import has {len(import_.errors)} error(s); not stored")
        now = _now()
        try:
            version = self._replace_msag_rows(import_, now)
        except (IntegrityError, psycopg.IntegrityError) as exc:
            # The transaction rolled back: the previous extract is still the one in force.
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise MsagRejected(f"database refused the extract, nothing changed: {detail}") from exc
        log.info(
            "e911.msag.replaced", version=version, rows=len(import_.rows),
            overlaps=len(import_.overlaps), dialect=self.dialect,
        )
        return MsagVersion(version, now, import_.source_name, len(import_.rows),
                           len(import_.overlaps))

    def _replace_msag_rows(self, import_: MsagImport, now: datetime) -> int:
        with self._write() as conn:
            version = int(
                conn.execute(
                    schema.msag_imports.insert()
                    .values(
                        imported_at=now, source=import_.source_name, sha256=import_.sha256,
                        row_count=len(import_.rows), overlap_count=len(import_.overlaps),
                    )
                    .returning(schema.msag_imports.c.version)
                ).scalar_one()
            )
            conn.execute(schema.msag_rows.delete())
            self._insert_msag_rows(conn, version, import_.rows)
        return version

    def _insert_msag_rows(
        self, conn: Connection, version: int, rows: Sequence[MsagRow]
    ) -> None:
        columns = ["import_version", *_MSAG_FIELDS]
        if self.dialect == "postgresql":
            # COPY is ~10x faster than batched INSERTs for a 500,000-row extract, and runs
            # on the same DBAPI connection, so it is inside this transaction.
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cursor, cursor.copy(
                f"COPY msag_rows ({', '.join(columns)}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row((version, *(getattr(row, f) for f in _MSAG_FIELDS)))
            return
        batch: list[dict[str, Any]] = []
        for row in rows:
            values = {f: getattr(row, f) for f in _MSAG_FIELDS}
            values["import_version"] = version
            batch.append(values)
            if len(batch) == 5000:
                conn.execute(schema.msag_rows.insert(), batch)
                batch = []
        if batch:
            conn.execute(schema.msag_rows.insert(), batch)

    def load_msag_rows(self) -> list[MsagRow]:
        """The extract in force, in file order (empty before the first import)."""
        m = schema.msag_rows
        with self._read() as conn:
            rows = conn.execute(
                sa.select(*(m.c[f] for f in _MSAG_FIELDS)).order_by(m.c.line, m.c.msag_id)
            ).all()
        result: list[MsagRow] = []
        for r in rows:
            values: dict[str, Any] = {
                f: ("" if v is None else v) for f, v in zip(_MSAG_FIELDS, r, strict=True)
            }
            result.append(MsagRow(**values))
        return result

    def msag_version(self) -> MsagVersion | None:
        """The import in force, or None before the first one."""
        i = schema.msag_imports
        with self._read() as conn:
            row = conn.execute(sa.select(i).order_by(i.c.version.desc()).limit(1)).first()
        if row is None:
            return None
        return MsagVersion(int(row.version), row.imported_at, row.source, row.row_count,
                           row.overlap_count)

    # -- the view's bulk read -----------------------------------------------------------------

    def load_view_rows(self, known_addresses: Container[str] = frozenset()) -> ViewRows:
        """Everything `LocationView` mirrors, from one snapshot of the database.

        Saved addresses never change once stored, so the view passes the ids it already
        holds and only the others are read and decoded.
        """
        with self._snapshot_read() as conn:
            seq = int(conn.scalar(sa.select(schema.change_seq.c.seq)) or 0)
            users, with_addresses, bindings = self._user_state(conn, None)
            return ViewRows(
                seq=seq,
                accounts=tuple(self._accounts(conn)),
                users=users,
                users_with_addresses=with_addresses,
                bindings=bindings,
                addresses=self._bound_addresses(
                    conn, [r.address_id for r in bindings if r.address_id not in known_addresses]
                ),
                networks=tuple(_network_from(r) for r in conn.execute(self._networks_query())),
            )

    def load_view_changes(
        self,
        since_seq: int,
        known_addresses: Container[str] = frozenset(),
        *,
        max_users: int = 5000,
    ) -> ViewChanges | None:
        """What changed after `since_seq`, re-read for the users, accounts and networks the
        change log names; None when the view should reload everything instead (the log was
        pruned past `since_seq`, or more than `max_users` users changed)."""
        log_table = schema.change_log
        with self._snapshot_read() as conn:
            seq = int(conn.scalar(sa.select(schema.change_seq.c.seq)) or 0)
            steps = conn.execute(
                sa.select(log_table.c.scope, log_table.c.account_id, log_table.c.sip_user)
                .where(log_table.c.seq > since_seq, log_table.c.seq <= seq)
            ).all()
            if len(steps) != seq - since_seq:
                return None
            users = frozenset(
                (step.account_id, step.sip_user)
                for step in steps
                if step.scope == ChangeScope.USER.value and step.sip_user is not None
            )
            if len(users) > max_users:
                return None
            scopes = {step.scope for step in steps}
            rows, with_addresses, bindings = self._user_state(conn, users)
            return ViewChanges(
                seq=seq,
                accounts=(
                    tuple(self._accounts(conn)) if ChangeScope.ACCOUNT.value in scopes else None
                ),
                networks=(
                    tuple(_network_from(r) for r in conn.execute(self._networks_query()))
                    if ChangeScope.NETWORKS.value in scopes
                    else None
                ),
                users=users,
                user_rows=rows,
                users_with_addresses=with_addresses,
                bindings=bindings,
                addresses=self._bound_addresses(
                    conn, [r.address_id for r in bindings if r.address_id not in known_addresses]
                ),
            )

    @contextmanager
    def _snapshot_read(self) -> Iterator[Connection]:
        """A read transaction that sees one snapshot across statements on both engines
        (SQLite's WAL readers always do; PostgreSQL needs REPEATABLE READ)."""
        with self._engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @staticmethod
    def _user_state(
        conn: Connection, users: frozenset[tuple[str, str]] | None
    ) -> tuple[tuple[UserRow, ...], frozenset[tuple[str, str]], tuple[BindingRow, ...]]:
        """User rows, who has saved addresses, and bindings: of everyone (`users` None) or
        of the given (account, SIP user) pairs."""
        a, b, u = schema.addresses, schema.bindings, schema.users
        user_query = sa.select(
            u.c.account_id, u.c.sip_user, u.c.display_name, u.c.callback_number,
            u.c.language, u.c.callback_preference,
        )
        owner_query = sa.select(a.c.account_id, a.c.sip_user).distinct()
        binding_query = sa.select(b.c.account_id, b.c.sip_user, b.c.network, b.c.address_id)
        if users is None:  # .all(): one fetchall, not a fetchone a row
            return (
                tuple(UserRow(*r) for r in conn.execute(user_query).all()),
                frozenset((r[0], r[1]) for r in conn.execute(owner_query).all()),
                tuple(BindingRow(*r) for r in conn.execute(binding_query).all()),
            )
        by_account: dict[str, list[str]] = {}
        for account_id, sip_user in users:
            by_account.setdefault(account_id, []).append(sip_user)
        rows: list[UserRow] = []
        owners: set[tuple[str, str]] = set()
        bindings: list[BindingRow] = []
        for account_id, names in by_account.items():
            for start in range(0, len(names), 500):
                chunk = names[start:start + 500]
                rows += (UserRow(*r) for r in conn.execute(user_query.where(
                    u.c.account_id == account_id, u.c.sip_user.in_(chunk))))
                owners.update((r[0], r[1]) for r in conn.execute(owner_query.where(
                    a.c.account_id == account_id, a.c.sip_user.in_(chunk))))
                bindings += (BindingRow(*r) for r in conn.execute(binding_query.where(
                    b.c.account_id == account_id, b.c.sip_user.in_(chunk))))
        return tuple(rows), frozenset(owners), tuple(bindings)

    @staticmethod
    def _bound_addresses(conn: Connection, ids: list[str]) -> dict[str, ValidatedAddress]:
        a, b = schema.addresses, schema.bindings
        # JSON as text, decoded below only for the rows wanted.
        columns = (a.c.id, sa.cast(a.c.civic, sa.Text).label("civic"), a.c.msag_id, a.c.esn)
        if len(ids) > 2000:  # a first load: one join beats thousands of IN lists
            wanted = set(ids)
            rows = [
                r for r in conn.execute(
                    sa.select(*columns).join(b, b.c.address_id == a.c.id)
                ).all()
                if r.id in wanted
            ]
        else:
            rows = []
            for start in range(0, len(ids), 500):
                rows += conn.execute(
                    sa.select(*columns).where(a.c.id.in_(ids[start:start + 500]))
                ).all()
        # Many users share an address (an office): decode each distinct JSON text once.
        civics: dict[str, CivicAddress] = {}
        out: dict[str, ValidatedAddress] = {}
        for r in rows:
            civic = civics.get(r.civic)
            if civic is None:
                civic = civics[r.civic] = civic_from_json(json.loads(r.civic))
            out[r.id] = ValidatedAddress(civic, r.msag_id, r.esn)
        return out


# --- row -> record ---------------------------------------------------------------------------

_MSAG_FIELDS: Final[tuple[str, ...]] = tuple(
    f.name for f in fields(MsagRow) if f.name in schema.msag_rows.c
)


def _now() -> datetime:
    return datetime.now(UTC)


def _check_language(field: str, value: str) -> None:
    if value not in LANGUAGES:
        raise InvalidValue(field, f"must be one of {', '.join(sorted(LANGUAGES))}")


def _check_sip_user(sip_user: str) -> None:
    if not sip_user or len(sip_user) > 128 or sip_user != sip_user.strip():
        raise InvalidValue("sip_user", "1 to 128 characters, no surrounding spaces")


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidValue("limit", f"must be 1..{MAX_PAGE}")


def _check_enable(account: Account) -> None:
    if not account.enabled:
        return
    missing = [
        name
        for name, present in (
            ("default_address", account.default_address is not None),
            ("emergency_contacts", bool(account.contacts)),
            ("callback", account.callback is not None),
        )
        if not present
    ]
    if missing:
        raise EnableRefused(missing)


def _account_from(row: Row[Any], contacts: tuple[str, ...]) -> Account:
    default = (
        ValidatedAddress(civic_from_json(row.default_civic), row.default_msag_id, row.default_esn)
        if row.default_civic is not None
        else None
    )
    callback = (
        Callback(row.callback_display_name, row.callback_number, row.callback_language)
        if row.callback_number is not None
        else None
    )
    return Account(
        id=row.id, name=row.name, language=row.language, enabled=bool(row.enabled),
        default_address=default, callback=callback, contacts=contacts,
        created_at=row.created_at, updated_at=row.updated_at,
    )


def _user_from(row: Row[Any]) -> User:
    return User(
        account_id=row.account_id, sip_user=row.sip_user, display_name=row.display_name,
        callback_number=row.callback_number, language=row.language,
        callback_preference=CallbackPreference(row.callback_preference),
        created_at=row.created_at, updated_at=row.updated_at,
    )


def _binding_from(row: Row[Any]) -> Binding:
    return Binding(
        address_id=row.address_id, account_id=row.account_id, sip_user=row.sip_user,
        network=row.network, registered_ip=row.registered_ip, bound_at=row.bound_at,
    )


def _saved_from(row: Row[Any]) -> SavedAddress:
    binding = (
        Binding(row.id, row.account_id, row.sip_user, row.b_network, row.b_registered_ip,
                row.b_bound_at)
        if row.b_network is not None
        else None
    )
    return SavedAddress(
        id=row.id, account_id=row.account_id, sip_user=row.sip_user, label=row.label,
        address=ValidatedAddress(civic_from_json(row.civic), row.msag_id, row.esn),
        binding=binding, created_at=row.created_at,
    )


def _network_from(row: Row[Any]) -> Network:
    if row.address_id is not None:
        address = ValidatedAddress(civic_from_json(row.a_civic), row.a_msag_id, row.a_esn)
    else:
        address = ValidatedAddress(civic_from_json(row.civic), row.msag_id, row.esn)
    return Network(
        id=row.id, account_id=row.account_id, cidr=row.cidr, label=row.label,
        address_id=row.address_id, address=address, created_at=row.created_at,
    )


def _located_by_network(net: Network) -> Located:
    return Located(
        address_id=net.address_id, civic=net.address.civic, msag_id=net.address.msag_id,
        esn=net.address.esn, source=LocationSource.NETWORK, network=net.cidr,
        network_id=net.id,
    )


def _event_from(row: Row[Any]) -> Event:
    return Event(
        seq=int(row.seq), id=row.id, type=row.type, account_id=row.account_id,
        sip_user=row.sip_user, network=row.network, data=dict(row.data),
        created_at=row.created_at,
    )
