"""The front's store (`front_store_url`, tests/support/seeded_store.py), with desk phone 3003
also bound at 127.0.0.11: the network its softphone first registers from."""

from __future__ import annotations

import pytest

from router.location.model import DEFAULT_ACCOUNT_ID
from router.store.store import open_store
from tests.support.pbx_chain import FIRST_DEVICE
from tests.support.seeded_store import PBX_PHONE_USER, front_store_url

__all__ = ["chain_store_url", "front_store_url"]


@pytest.fixture
def chain_store_url(front_store_url: str) -> str:
    store = open_store(front_store_url)
    try:
        (desk,) = store.list_addresses(DEFAULT_ACCOUNT_ID, PBX_PHONE_USER, limit=1).data
        store.bind(DEFAULT_ACCOUNT_ID, PBX_PHONE_USER, desk.id, FIRST_DEVICE)
    finally:
        store.close()
    return front_store_url
