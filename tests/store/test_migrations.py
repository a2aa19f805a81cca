"""Schema migrations: ordered, recorded, idempotent, and in step with `schema.py`."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from router.db import migrations, schema
from router.db.engine import make_engine
from router.location.model import DEFAULT_ACCOUNT_ID
from router.location.msag import MsagRow
from router.store.store import Store, open_store


def test_migrate_twice_applies_nothing_the_second_time(store: Store) -> None:
    """A migrated store reports no pending step, and its version is the last step's."""
    latest = migrations.discover()[-1].version
    assert store.migrate() == []
    assert store.migrate() == []
    assert store.schema_version() == latest


def test_fresh_database_gets_every_step_in_order(store_url: str) -> None:
    """Opening an empty database applies steps 1..N once each and records them."""
    engine = make_engine(store_url)
    try:
        assert migrations.current_version(engine) == 0
        applied = migrations.migrate(engine)
        assert applied == [m.version for m in migrations.discover()]
        with engine.connect() as conn:
            recorded = conn.execute(
                sa.select(schema.schema_migrations.c.version, schema.schema_migrations.c.name)
                .order_by(schema.schema_migrations.c.version)
            ).all()
        assert [(v, n) for v, n in recorded] == [(m.version, m.name) for m in migrations.discover()]
        assert recorded[0] == (1, "initial")
    finally:
        engine.dispose()


def test_two_stores_migrating_the_same_database_do_not_collide(
    open_another: Callable[..., Store],
) -> None:
    """A second process (another worker) opening the same database finds it migrated."""
    first = open_another()
    second = open_another()
    assert second.schema_version() == first.schema_version() == migrations.discover()[-1].version


def test_default_account_exists_after_migration(store: Store) -> None:
    """The first migration creates `acct_default`, disabled and without settings."""
    account = store.get_account(DEFAULT_ACCOUNT_ID)
    assert account.id == "acct_default"
    assert account.enabled is False
    assert account.default_address is None
    assert account.callback is None
    assert account.contacts == ()
    assert account.created_at.tzinfo is UTC
    assert [a.id for a in store.list_accounts()] == ["acct_default"]


def test_migrated_database_has_exactly_the_tables_and_columns_the_code_queries(
    store: Store,
) -> None:
    """Migrations and `schema.py` describe the same tables (catches a step left out)."""
    inspector = sa.inspect(store.engine)
    in_database = {
        name: {c["name"]: c["nullable"] for c in inspector.get_columns(name)}
        for name in inspector.get_table_names()
    }
    in_code = {
        table.name: {c.name: bool(c.nullable) for c in table.columns}
        for table in schema.metadata.sorted_tables
    }
    assert in_database == in_code


def test_msag_rows_table_has_a_column_for_every_msag_row_field() -> None:
    """No MSAG field is silently dropped when the extract is stored."""
    missing = {f.name for f in fields(MsagRow)} - set(schema.msag_rows.c.keys())
    assert missing == set()


def test_database_newer_than_the_code_is_refused(store: Store) -> None:
    """A step this code does not know means a newer router migrated it: refuse to run."""
    with store.engine.begin() as conn:
        conn.execute(
            schema.schema_migrations.insert().values(
                version=9999, name="from_the_future", applied_at=datetime.now(UTC)
            )
        )
    with pytest.raises(migrations.MigrationError, match=r"\[9999\]"):
        store.migrate()


def test_change_seq_starts_at_zero_and_sqlite_file_is_created(store_url: str) -> None:
    """A new store's counter is 0; the SQLite parent directory is created on open."""
    s = open_store(store_url)
    try:
        assert s.change_seq() == 0
        assert s.ping() is True
        if s.dialect == "sqlite":
            with s.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        s.close()


def test_ping_is_false_when_the_database_is_unreachable() -> None:
    """ping() reports an outage instead of raising."""
    s = open_store("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1", migrate=False)
    try:
        assert s.ping() is False
    finally:
        s.close()


def test_sqlite_connection_opened_while_another_writer_holds_the_lock_waits(
    tmp_path: Path,
) -> None:
    """A new connection waits for a writer's lock (busy timeout) instead of failing at once.

    The recorder's spool importer and a migrating `open_store` meet exactly like this when the
    database comes back; the WAL switch on connect needs the write lock, and SQLite does not
    call the busy handler for it.
    """
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x INTEGER)")  # a fresh file: rollback journal, not WAL
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    finally:
        release.join()
        engine.dispose()
        holder.close()
