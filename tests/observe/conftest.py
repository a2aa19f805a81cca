"""Fixtures for observability tests: a store on each engine (the store suite's fixtures), a
call outcome builder, and the record a 911 call leaves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.stores import open_another, store

__all__ = ["open_another", "store"]


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
