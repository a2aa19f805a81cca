"""`/v1/call-records` (router/api/records.py) mounted on the real API app over real HTTP:
administrators read records, their notification outcomes and the chain's verdict; users may not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from router.api import create_app
from router.api import records as records_api
from router.location.model import DEFAULT_ACCOUNT_ID
from router.records.model import pidf_sha256
from router.store.store import Store, open_store
from tests.observe.keyed import KEY_TEXT, keyed
from tests.observe.samples import CALLBACK, PIDF, record
from tests.support.api_server import ADMIN_TOKEN, FAST, ApiServer, api_settings, client, serve


@pytest.fixture
def records_api_server(tmp_path: Path) -> Iterator[tuple[ApiServer, Store]]:
    store = open_store(f"sqlite:///{tmp_path}/e911.db")
    app = create_app(api_settings(E911_RECORDS_KEY=KEY_TEXT), store, options=FAST)
    app.include_router(records_api.router)
    server = serve(app)
    yield server, store
    server.stop()
    store.close()


def test_admin_lists_one_record_with_pidf_and_callback(
    records_api_server: tuple[ApiServer, Store]
) -> None:
    """The account's records come back oldest first, each with its PIDF-LO and hash."""
    server, store = records_api_server
    records = keyed(store)
    records.append(record(1, account_id=DEFAULT_ACCOUNT_ID, pidf_lo=PIDF,
                          pidf_sha256=pidf_sha256(PIDF)))
    records.append(record(2, account_id="acct_other"))
    with client(server.url, ADMIN_TOKEN) as admin:
        listed = admin.get("/v1/call-records", params={"from": "2026-03-01T00:00:00Z"})
        assert listed.status_code == 200, listed.text
        (only,) = listed.json()["records"]
        assert (only["id"], only["seq"], only["callback_number"], only["pidf_lo"]) == (
            record(1).id, 1, CALLBACK, PIDF)
        assert only["notifications"] == []
        one = admin.get(f"/v1/call-records/{record(1).id}")
        assert one.status_code == 200 and one.json()["hash"] == only["hash"]
        assert admin.get(f"/v1/call-records/{record(2).id}").status_code == 404
        verdict = admin.get("/v1/call-records/verify").json()
        assert (verdict["intact"], verdict["records"], verdict["keyed"],
                verdict["first_broken"]) == (True, 2, 2, None)
        naive = admin.get("/v1/call-records", params={"from": "2026-03-01T00:00:00"})
        assert naive.status_code == 400
        unix = admin.get("/v1/call-records", params={"to": "0.5"})  # not a Unix time
        assert unix.status_code == 400
        assert unix.json()["error"]["fields"][0]["field"] == "to"


def test_user_token_and_no_token_are_refused(
    records_api_server: tuple[ApiServer, Store]
) -> None:
    """A user's token gets 403 (records hold other people's numbers); no token gets 401."""
    server, _ = records_api_server
    with client(server.url, ADMIN_TOKEN) as admin:
        assert admin.put("/v1/users/1001", json={}).status_code == 201
        issued = admin.post("/v1/users/1001/tokens", json={"label": "softphone"})
        assert issued.status_code == 201, issued.text
    with client(server.url, issued.json()["token"]) as user:
        assert user.get("/v1/call-records").status_code == 403
        assert user.get("/v1/call-records/verify").status_code == 403
    with client(server.url) as anon:
        assert anon.get("/v1/call-records").status_code == 401


def test_verify_without_the_records_key_answers_503(tmp_path: Path) -> None:
    """No E911_RECORDS_KEY and no key file: the verdict cannot be computed; 503 in the
    documented error shape, naming the missing file, never a key."""
    store = open_store(f"sqlite:///{tmp_path}/e911.db")
    settings = api_settings(E911_RECORDS_KEY="",
                            E911_RECORDS_KEY_FILE=str(tmp_path / "missing.key"))
    app = create_app(settings, store, options=FAST)
    app.include_router(records_api.router)
    server = serve(app)
    try:
        with client(server.url, ADMIN_TOKEN) as admin:
            answer = admin.get("/v1/call-records/verify")
    finally:
        server.stop()
        store.close()
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["type"] == "service_unavailable"
    assert "missing.key: no such file" in error["message"]
