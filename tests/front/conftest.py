"""Fixtures for the front: a SQLite store with a located caller (1001 at 127.0.0.1), an
unlocated one (2002) and a PBX phone (3003) whose address is bound to 10.1.2.3 only, which no
INVITE comes from: it is located only when a PBX names that device address."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from router.location.model import DEFAULT_ACCOUNT_ID, Callback, CallbackPreference, ValidatedAddress
from router.store.store import open_store
from tests.scenarios.conftest import (
    ACCOUNT_CALLBACK,
    LOCATED_USER,
    OFFICE,
    UNLOCATED_USER,
    USER_CALLBACK,
)

PBX_PHONE_USER = "3003"
PBX_PHONE_IP = "10.1.2.3"
PBX_PHONE_CALLBACK = "+14065553003"

requires_kamailio = pytest.mark.skipif(shutil.which("kamailio") is None,
                                       reason="kamailio not installed (scripts/test installs it)")

__all__ = ["ACCOUNT_CALLBACK", "LOCATED_USER", "OFFICE", "PBX_PHONE_CALLBACK", "PBX_PHONE_IP",
           "PBX_PHONE_USER", "UNLOCATED_USER", "USER_CALLBACK", "requires_kamailio"]


@pytest.fixture
def front_store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'e911.db'}"
    store = open_store(url)
    try:
        office = ValidatedAddress(OFFICE, msag_id="MSAG-TEST-1", esn="101")
        store.set_contacts(DEFAULT_ACCOUNT_ID, ["ops@example.com"])
        store.update_account(DEFAULT_ACCOUNT_ID, default_address=office,
                             callback=Callback("Acme Dispatch", ACCOUNT_CALLBACK, "en"))
        store.update_account(DEFAULT_ACCOUNT_ID, enabled=True)
        store.upsert_user(DEFAULT_ACCOUNT_ID, LOCATED_USER, display_name="Ada Lovelace",
                          callback_number=USER_CALLBACK, language="en",
                          callback_preference=CallbackPreference.OWN)
        saved = store.add_address(DEFAULT_ACCOUNT_ID, LOCATED_USER, office, label="office")
        store.bind(DEFAULT_ACCOUNT_ID, LOCATED_USER, saved.id, "127.0.0.1")
        store.upsert_user(DEFAULT_ACCOUNT_ID, UNLOCATED_USER, display_name="Grace Hopper",
                          language="es")
        store.upsert_user(DEFAULT_ACCOUNT_ID, PBX_PHONE_USER, display_name="Desk Phone",
                          callback_number=PBX_PHONE_CALLBACK, language="en",
                          callback_preference=CallbackPreference.OWN)
        desk = store.add_address(DEFAULT_ACCOUNT_ID, PBX_PHONE_USER, office, label="desk")
        store.bind(DEFAULT_ACCOUNT_ID, PBX_PHONE_USER, desk.id, PBX_PHONE_IP)
    finally:
        store.close()
    return url
