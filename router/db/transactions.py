"""One way to run a transaction on the engine, for every store that writes SQL.

`read()` and `write()` each take a pooled connection for one transaction and give it back
(commit on success, rollback on an exception). A write sets `e911_write`, so on SQLite the
engine's begin hook issues `BEGIN IMMEDIATE`: a busy database is waited for up front
(busy_timeout) instead of failing half way with SQLITE_BUSY. `snapshot()` is a read that
sees one snapshot across statements on both engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine


@dataclass(frozen=True, slots=True)
class Transactions:
    """Transactions over one engine; safe to share between threads (the engine's pool)."""

    engine: Engine

    @property
    def dialect(self) -> Literal["sqlite", "postgresql"]:
        return "sqlite" if self.engine.dialect.name == "sqlite" else "postgresql"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(e911_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read transaction that sees one snapshot across statements on both engines
        (SQLite's WAL readers always do; PostgreSQL needs REPEATABLE READ)."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def insert(self) -> Any:
        """The dialect's INSERT with ON CONFLICT support."""
        return pg_dialect.insert if self.dialect == "postgresql" else sqlite_dialect.insert


def insert_for(conn: Connection) -> Any:
    """`Transactions.insert` for the dialect of a connection already in a transaction."""
    return sqlite_dialect.insert if conn.dialect.name == "sqlite" else pg_dialect.insert
