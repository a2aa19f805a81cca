"""The SQLite store the call tests run against: an enabled account, a located user (1001,
bound to 127.0.0.1), an unlocated one (2002), and for the front a PBX desk phone (3003) bound
to 10.1.2.3 only, which no INVITE comes from: it is located only when a PBX names that device.
The `store_url` and `front_store_url` fixtures are registered by the conftests that import them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from router.location.civic import CivicAddress
from router.location.model import DEFAULT_ACCOUNT_ID, Callback, CallbackPreference, ValidatedAddress
from router.store.store import open_store

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

PBX_PHONE_USER = "3003"
PBX_PHONE_IP = "10.1.2.3"
PBX_PHONE_CALLBACK = "+14065553003"


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


@pytest.fixture
def front_store_url(tmp_path: Path) -> str:
    """The seeded store (`seed_store`) plus the PBX desk phone 3003, its office bound to
    PBX_PHONE_IP only."""
    url = f"sqlite:///{tmp_path / 'e911.db'}"
    seed_store(url)
    store = open_store(url)
    try:
        office = ValidatedAddress(OFFICE, msag_id="MSAG-TEST-1", esn="101")
        store.upsert_user(DEFAULT_ACCOUNT_ID, PBX_PHONE_USER, display_name="Desk Phone",
                          callback_number=PBX_PHONE_CALLBACK, language="en",
                          callback_preference=CallbackPreference.OWN)
        desk = store.add_address(DEFAULT_ACCOUNT_ID, PBX_PHONE_USER, office, label="desk")
        store.bind(DEFAULT_ACCOUNT_ID, PBX_PHONE_USER, desk.id, PBX_PHONE_IP)
    finally:
        store.close()
    return url


def forget_callback_numbers(store_url: str) -> None:
    """No NANP callback anywhere: the account's is a UK number (an enabled account must have
    one), the user has none, and its SIP user 1001 is an extension."""
    store = open_store(store_url)
    try:
        store.update_account(DEFAULT_ACCOUNT_ID,
                             callback=Callback("Acme Dispatch", "+442071234567", "en"))
        store.upsert_user(DEFAULT_ACCOUNT_ID, LOCATED_USER, display_name="Ada Lovelace",
                          callback_number=None, language="en",
                          callback_preference=CallbackPreference.ACCOUNT)
    finally:
        store.close()
