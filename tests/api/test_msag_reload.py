"""The API's MSAG index: built once, rebuilt when another extract is imported."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from router.api.msag_cache import MsagCache
from router.location.msag import parse_msag_files
from router.store.store import Store
from tests.support.api_server import MSAG_DIR, sample_msag, wss

OTTAWA = {"country": "CA", "house_number": "24", "street": "Sussex Drive", "city": "Ottawa",
          "state": "ON", "postal_code": "K1M 1M4"}


def test_index_is_reused_until_the_msag_version_changes(store: Store) -> None:
    """Same object while the import in force is the same; a new one after an import."""
    clock = [0.0]
    cache = MsagCache(store, check_interval_seconds=5.0, clock=lambda: clock[0])
    first = cache.index()
    assert cache.version == 1 and first.row_count == len(sample_msag().rows)
    clock[0] = 10.0
    assert cache.index() is first
    store.replace_msag(sample_msag())
    clock[0] = 12.0
    assert cache.index() is first  # within the check interval: no query, old index
    clock[0] = 16.0
    rebuilt = cache.index()
    assert rebuilt is not first and cache.version == 2


def test_a_new_import_reaches_the_running_api(admin: httpx.Client, store: Store) -> None:
    """Replace the extract with the Canadian fixture only: Montana stops validating, Ottawa
    starts, without restarting the API."""
    path = "/v1/users/1001/emergency-addresses"
    assert admin.post(path, json=wss()).status_code == 201
    before = admin.post(path, json=OTTAWA)
    assert before.status_code == 201  # the sample has both files
    canadian = parse_msag_files([Path(MSAG_DIR) / "msag_fixture_ca_SYNTHETIC.csv"])
    store.replace_msag(canadian)
    montana = admin.post(path, json=wss())
    assert montana.status_code == 422
    assert [(f["field"], f["code"]) for f in montana.json()["error"]["fields"]] == [
        ("state", "not_in_msag")]
    after = admin.post(path, json=OTTAWA)
    assert after.status_code == 201
    assert (after.json()["address"]["esn"], after.json()["address"]["street_suffix"]) == (
        "90010", "DR")
    assert admin.get("/health").json()["msag_version"] == 2



def test_a_failing_check_after_loading_keeps_the_loaded_index(store: Store) -> None:
    """Once an index is loaded, a version check the database fails keeps it; before any
    index is loaded the failure reaches the caller (503)."""
    clock = [0.0]
    cache = MsagCache(store, check_interval_seconds=1.0, clock=lambda: clock[0])
    loaded = cache.index()
    fresh = MsagCache(store, check_interval_seconds=1.0, clock=lambda: clock[0])
    with store.engine.begin() as conn:  # the tables the check reads disappear
        conn.execute(sa.text("DROP TABLE msag_rows"))
        conn.execute(sa.text("DROP TABLE msag_imports"))
    clock[0] = 5.0
    assert cache.index() is loaded
    with pytest.raises(DBAPIError):
        fresh.index()
