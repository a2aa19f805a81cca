"""Fixtures for end-to-end call flows: a real SQLite store seeded with an enabled account, a
located user and an unlocated one; a worker started on a free port; SIPp trunks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from router.location.civic import CivicAddress
from router.location.model import DEFAULT_ACCOUNT_ID, Callback, CallbackPreference, ValidatedAddress
from router.store.store import open_store
from tests.scenarios.harness import PROMPTS, WorkerProcess, free_port, start_worker

LOCATED_USER = "1001"
"""Has a saved address bound to 127.0.0.1 (the address SIPp calls from)."""
UNLOCATED_USER = "2002"
"""Known user without any address: normal calls are announced, 911 goes to sorting."""
USER_CALLBACK = "+14065551001"
ACCOUNT_CALLBACK = "+14065550100"

OFFICE = CivicAddress(
    country="US", state="MT", city="WHITE SULPHUR SPRINGS", street_name="LARAMIE",
    house_number="105", prefix_directional="E", street_suffix="ST", postal_code="59645",
    county="MEAGHER", unit="STE 4",
)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A seeded SQLite store (see `seed_store`)."""
    url = f"sqlite:///{tmp_path / 'e911.db'}"
    seed_store(url)
    return url


def seed_store(url: str) -> None:
    """Account enabled (callback, contacts, default address), user 1001 with its office bound
    to 127.0.0.1, user 2002 with nothing; anyone else is unknown."""
    store = open_store(url)
    try:
        office = ValidatedAddress(OFFICE, msag_id="MSAG-TEST-1", esn="101")
        store.set_contacts(DEFAULT_ACCOUNT_ID, ["ops@example.com"])
        store.update_account(
            DEFAULT_ACCOUNT_ID, default_address=office,
            callback=Callback("Acme Dispatch", ACCOUNT_CALLBACK, "en"),
        )
        store.update_account(DEFAULT_ACCOUNT_ID, enabled=True)
        store.upsert_user(DEFAULT_ACCOUNT_ID, LOCATED_USER, display_name="Ada Lovelace",
                          callback_number=USER_CALLBACK, language="en",
                          callback_preference=CallbackPreference.OWN)
        saved = store.add_address(DEFAULT_ACCOUNT_ID, LOCATED_USER, office, label="office")
        store.bind(DEFAULT_ACCOUNT_ID, LOCATED_USER, saved.id, "127.0.0.1")
        store.upsert_user(DEFAULT_ACCOUNT_ID, UNLOCATED_USER, display_name="Grace Hopper",
                          language="es")
    finally:
        store.close()


WorkerFactory = Callable[..., WorkerProcess]


@pytest.fixture
def worker_factory(store_url: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start workers with E911_* overrides; every one is stopped (SIGTERM) afterwards."""
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        port = free_port()
        base = {
            "E911_DATABASE_URL": store_url,
            "E911_TRUSTED_PEERS": "127.0.0.1/32",
            "E911_PBX_PEERS": "127.0.0.1/32",
            "E911_PROMPTS_DIR": str(PROMPTS),
            "E911_TRUNK_TIMEOUT_SECONDS": "1",
            "E911_TRUNK_OUTBOUND": "sip:127.0.0.1:9",
            "E911_TRUNK_PSAP": "sip:127.0.0.1:9",
            "E911_TRUNK_SORTING_CENTER": "sip:127.0.0.1:9",
        }
        base.update(env)
        worker = start_worker(base, port)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
