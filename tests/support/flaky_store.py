"""The store as the recorder and the record writer see it in tests: a database that can be
taken away and brought back (SQLite: its directory removed; PostgreSQL: behind a TCP proxy we
cut), and a count of the committed transactions that wrote a table (SQLAlchemy events)."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from router.db.engine import make_engine
from router.store.store import open_store
from tests.support.notices import with_contacts
from tests.support.ports import free_port


class EngineOnly:
    """A StoreLike over a given engine (the writers' view of a store that may be down)."""

    def __init__(self, engine: sa.Engine, dialect: str) -> None:
        self.engine = engine
        self.dialect = dialect


class TcpProxy:
    """A loopback TCP forwarder we can take down (refuse and cut every connection) and up."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except (OSError, ValueError):  # ValueError: down() closed a socket under select()
            return
        finally:
            a.close()
            b.close()


@dataclass(frozen=True, slots=True)
class Flaky:
    """A migrated store (with the default account's contact) that `down()` takes away."""

    target: EngineOnly
    down: Callable[[], None]
    up: Callable[[], None]
    url: str


@contextlib.contextmanager
def flaky_store(store_url: str, tmp_path: Path) -> Iterator[Flaky]:
    """On each engine: SQLite loses its directory (the file cannot be opened) and is created
    there again, migrated, by `up()`; PostgreSQL sits behind a `TcpProxy` that `down()` cuts,
    open connections included."""
    if store_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/flaky/e911.db"
        engine = make_engine(url)

        def down() -> None:
            engine.dispose()
            for f in (tmp_path / "flaky").glob("*"):
                f.unlink()
            (tmp_path / "flaky").rmdir()

        def up() -> None:
            with_contacts(open_store(url), ("ops@example.com",)).close()

        up()
        try:
            yield Flaky(EngineOnly(engine, "sqlite"), down, up, url)
        finally:
            engine.dispose()
        return
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.up()
    url = store_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    with_contacts(open_store(url), ("ops@example.com",)).close()
    engine = make_engine(url)
    try:
        yield Flaky(EngineOnly(engine, "postgresql"), proxy.down, proxy.up, url)
    finally:
        engine.dispose()
        proxy.down()


def _inserts_into(statement: str, table: str) -> bool:
    return statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} ")


class CommittedWrites:
    """Counts the committed transactions on `engine` that inserted into `table`, and the rows
    their INSERTs carried (executemany included; ON CONFLICT DO NOTHING may skip some)."""

    def __init__(self, engine: sa.Engine, table: str) -> None:
        self.rows: list[int] = []
        """Rows sent to `table`, one entry per committed transaction."""
        self._engine = engine
        self._table = table
        self._key = f"inserted_{table}_{id(self)}"
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._executing)
        event.listen(engine, "commit", self._committed)
        event.listen(engine, "rollback", self._rolled_back)

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._executing)
        event.remove(self._engine, "commit", self._committed)
        event.remove(self._engine, "rollback", self._rolled_back)

    def __enter__(self) -> CommittedWrites:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def transactions(self) -> int:
        with self._lock:
            return len(self.rows)

    def _executing(self, conn: sa.Connection, cursor: Any, statement: str, parameters: Any,
                   context: Any, executemany: bool) -> None:
        if _inserts_into(statement, self._table):
            rows = _values_rows(statement)
            if executemany and isinstance(parameters, (list, tuple)) and parameters and \
                    isinstance(parameters[0], (list, tuple, dict)):
                rows *= len(parameters)  # one statement run once per parameter set
            conn.info[self._key] = conn.info.get(self._key, 0) + rows

    def _committed(self, conn: sa.Connection) -> None:
        rows = conn.info.pop(self._key, 0)
        if rows:
            with self._lock:
                self.rows.append(rows)

    def _rolled_back(self, conn: sa.Connection) -> None:
        conn.info.pop(self._key, None)


def _values_rows(statement: str) -> int:
    """Rows of one run of an INSERT statement: SQLAlchemy's "insertmanyvalues" sends many
    rows as one `VALUES (...), (...)` statement (its parameters one flat sequence)."""
    values = statement.upper().split(" VALUES ", 1)[1].split(" RETURNING ", 1)[0]
    values = values.split(" ON CONFLICT ", 1)[0]
    depth, rows = 0, 0
    for char in values:
        if char == "(":
            depth += 1
            if depth == 1:
                rows += 1
        elif char == ")":
            depth -= 1
    return rows


def on_insert(engine: sa.Engine, table: str, action: Callable[[], None]) -> None:
    """Run `action` once, just before the first INSERT into `table` goes to the database (to
    take the store away in the middle of a write transaction)."""
    def executing(conn: sa.Connection, cursor: Any, statement: str, parameters: Any,
                  context: Any, executemany: bool) -> None:
        if _inserts_into(statement, table):
            event.remove(engine, "before_cursor_execute", executing)
            action()

    event.listen(engine, "before_cursor_execute", executing)
