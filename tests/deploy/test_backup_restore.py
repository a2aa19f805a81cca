"""The backup and restore commands of docs/deploy.md, run: each copy opens as a store with the
same schema version and the same rows."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from router.location.model import DEFAULT_ACCOUNT_ID
from router.store.store import open_store
from tests.support.postgres import POSTGRES_URL, postgres_unreachable

DEPLOY_DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def assert_copy_of_probe(url: str, version: int) -> None:
    """The copy at `url` opens unmigrated, at `version`, with the probe user written before."""
    copy = open_store(url, migrate=False)
    try:
        assert copy.schema_version() == version
        assert copy.get_user(DEFAULT_ACCOUNT_ID, "1001").display_name == "Backup Probe"
    finally:
        copy.close()


def sqlite_backup_code() -> str:
    """The Python of the SQLite backup line in docs/deploy.md (what follows `python -c`)."""
    match = re.search(r"\.venv/bin/python -c '([^']+)'", DEPLOY_DOC.read_text())
    assert match, "docs/deploy.md has no SQLite backup line"
    return match.group(1)


def test_sqlite_backup_line_copies_a_store_that_opens(tmp_path: Path) -> None:
    """The documented online backup of var/e911.db gives a store with the user written
    before it and the same schema version."""
    live = tmp_path / "var" / "e911.db"
    store = open_store(f"sqlite:///{live}")
    store.upsert_user(DEFAULT_ACCOUNT_ID, "1001", display_name="Backup Probe")
    version = store.schema_version()
    backup = tmp_path / "backup" / "e911.db"
    backup.parent.mkdir()
    code = (sqlite_backup_code().replace("/var/lib/e911-router/var/e911.db", str(live))
            .replace("/backup/e911.db", str(backup)))
    assert str(live) in code and str(backup) in code
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    store.close()
    assert_copy_of_probe(f"sqlite:///{backup}", version)


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    """Two new, empty PostgreSQL databases (names), dropped afterwards."""
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    names = (f"e911_backup_{secrets.token_hex(4)}", f"e911_restore_{secrets.token_hex(4)}")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_pg_dump_custom_and_pg_restore_give_the_same_store(two_databases: tuple[str, str],
                                                           tmp_path: Path) -> None:
    """pg_dump --format=custom of a live store, pg_restore --no-owner into an empty database:
    the restored store has the same schema version and rows."""
    source, target = two_databases
    base = POSTGRES_URL.rsplit("/", 1)[0]
    store = open_store(f"{base}/{source}")
    store.upsert_user(DEFAULT_ACCOUNT_ID, "1001", display_name="Backup Probe")
    version = store.schema_version()
    dump = tmp_path / "e911.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", f"{base}/{source}"],
                   check=True, timeout=120, capture_output=True)
    store.close()
    subprocess.run(["pg_restore", f"--dbname={base}/{target}", "--no-owner", str(dump)],
                   check=True, timeout=120, capture_output=True)
    assert_copy_of_probe(f"{base}/{target}", version)
