"""Fault tests: the router under a steady SIPp load while something breaks.

The store is seeded with the load callers (scripts/loadlib.py: located users 5000-5999 bound to
127.0.0.1); the load runs in a background thread while the test breaks something, and the
SIPp statistics say afterwards how every call ended.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.loadlib import seed_store


@pytest.fixture
def load_store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'e911.db'}"
    seed_store(url)
    return url


