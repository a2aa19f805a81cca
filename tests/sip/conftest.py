"""The worker-process fixtures (seeded store, worker started on a free port) are shared with
tests/scenarios."""

from tests.support.seeded_store import store_url
from tests.support.worker import worker_factory

__all__ = ["store_url", "worker_factory"]
