"""The SQLAlchemy engine for `E911_DATABASE_URL`: the driver each backend uses, its pool, and
SQLite's per-connection settings (busy timeout, WAL, full sync, foreign keys, and an explicit
`BEGIN` / `BEGIN IMMEDIATE` for every transaction).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from router.db.errors import InvalidValue


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
    # `e911_write` is set by `Transactions.write` (and the migration runner).
    write = conn.get_execution_options().get("e911_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
