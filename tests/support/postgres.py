"""The PostgreSQL server the suite uses (`POSTGRES_URL`) and whether it answers."""

from __future__ import annotations

import psycopg

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
