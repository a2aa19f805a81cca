"""One store suite, two engines: every test that takes `store` runs on SQLite (a file in
tmp_path) and on PostgreSQL (a fresh schema per test, dropped afterwards).

PostgreSQL tests skip, saying why, only when no server answers at `POSTGRES_URL`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from router.location.model import ValidatedAddress
from tests.support.stores import open_another, store, validated

__all__ = ["open_another", "store"]


@pytest.fixture
def address() -> Callable[..., ValidatedAddress]:
    """`address("105")`: a validated address built directly (no validator needed)."""
    return validated
