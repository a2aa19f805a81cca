"""Fixtures shared by every test directory: the two store engines.

`store_url` gives an empty store on SQLite (a file in tmp_path) and on PostgreSQL (a fresh
schema of the `test` database per test, dropped afterwards). PostgreSQL tests skip, saying
why, only when no server answers at `POSTGRES_URL`. A directory may override `store_url`
(the SIP scenarios use SQLite only).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
_pg_checked: list[str | None] = []


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers (checked once a session)."""
    if not _pg_checked:
        try:
            with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _pg_checked.append(None)
        except psycopg.Error as exc:
            _pg_checked.append(f"no PostgreSQL server at {POSTGRES_URL}: {exc}".strip())
    return _pg_checked[0]


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A store URL whose tables live in a new schema of the `test` database."""
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"e911_test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database URL of an empty store, on each engine in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/var/e911.db"
    url: str = request.getfixturevalue("pg_schema_url")
    return url
