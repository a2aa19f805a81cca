"""The worker-process fixtures (seeded store, worker started on a free port) are shared with
tests/scenarios."""

from tests.scenarios.conftest import store_url, worker_factory

__all__ = ["store_url", "worker_factory"]
