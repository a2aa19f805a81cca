"""Versioned schema migrations, applied in order and recorded in `schema_migrations`.

Each step is a module in this package named `m<NNNN>_<what>.py` (four digits, starting at
0001, no gaps) with a docstring saying what it does and a function

    def upgrade(conn: sqlalchemy.engine.Connection) -> None

that runs inside the migration transaction. A step defines the tables it creates itself (a
frozen copy, like `m0001_initial`), or alters with portable SQL (`ALTER TABLE x ADD COLUMN
...`); it must run on SQLite and PostgreSQL alike. `migrate()` applies every pending step in
one transaction (PostgreSQL DDL is transactional, and so is SQLite's under our explicit
`BEGIN IMMEDIATE`), so a failing step leaves the database at the old version. Concurrent
starters (a supervisor and its workers) are serialised: an advisory lock on PostgreSQL, the
write lock on SQLite. See docs/store.md, "Adding a migration".
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from router.db.schema import schema_migrations

_NAME = re.compile(r"^m(\d{4})_([a-z0-9_]+)$")
_PG_LOCK_KEY = 0x45393131  # "E911": one advisory lock id for every migrating process


class MigrationError(RuntimeError):
    """The migration steps or the database are not in a state we can migrate from."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    description: str
    upgrade: Callable[[Connection], None]


def discover() -> tuple[Migration, ...]:
    """Every step in this package, in order; refuses duplicate numbers and gaps."""
    found: dict[int, Migration] = {}
    for info in pkgutil.iter_modules(__path__):
        match = _NAME.match(info.name)
        if match is None:
            continue
        module: ModuleType = importlib.import_module(f"{__name__}.{info.name}")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"two migrations numbered {version:04d}: {found[version].name} and"
                f" {match.group(2)}; renumber the newer one"
            )
        upgrade = getattr(module, "upgrade", None)
        if not callable(upgrade):
            raise MigrationError(f"migration {info.name} has no upgrade(conn) function")
        found[version] = Migration(
            version=version,
            name=match.group(2),
            description=(module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else "",
            upgrade=upgrade,
        )
    ordered = tuple(found[v] for v in sorted(found))
    for expected, step in enumerate(ordered, start=1):
        if step.version != expected:
            raise MigrationError(f"migration {expected:04d} is missing (found {step.version:04d})")
    return ordered


def applied_versions(conn: Connection) -> set[int]:
    if not sa.inspect(conn).has_table(schema_migrations.name):
        return set()
    return set(conn.scalars(sa.select(schema_migrations.c.version)))


def migrate(engine: Engine) -> list[int]:
    """Apply every pending step; returns the versions applied (empty when up to date)."""
    steps = discover()
    known = {step.version for step in steps}
    with engine.connect() as conn:
        conn.execution_options(e911_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
            schema_migrations.create(conn, checkfirst=True)
            applied = applied_versions(conn)
            unknown = sorted(applied - known)
            if unknown:
                raise MigrationError(
                    f"the database has migration(s) {unknown} this code does not know;"
                    " run a newer e911-router against it"
                )
            done: list[int] = []
            for step in steps:
                if step.version in applied:
                    continue
                step.upgrade(conn)
                conn.execute(
                    schema_migrations.insert().values(
                        version=step.version, name=step.name, applied_at=datetime.now(UTC)
                    )
                )
                done.append(step.version)
            return done


def current_version(engine: Engine) -> int:
    """The highest applied step, 0 for an empty database."""
    with engine.connect() as conn:
        return max(applied_versions(conn), default=0)
