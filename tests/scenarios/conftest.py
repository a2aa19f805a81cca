"""Fixtures for end-to-end call flows: a real SQLite store seeded with an enabled account, a
located user and an unlocated one (tests/support/seeded_store.py); a worker started on a free
port (tests/support/worker.py); SIPp trunks (tests/support/sipp.py)."""

from tests.support.seeded_store import store_url
from tests.support.worker import worker_factory

__all__ = ["store_url", "worker_factory"]
