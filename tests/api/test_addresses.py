"""DialStack's saved addresses over HTTP: save, list (paged), bind, locate, clear, delete."""

from __future__ import annotations

import time
from typing import Any

import httpx

from router.location.msag import parse_msag_csv
from router.store.store import Store
from tests.support.api_server import UserClient, wss

ADDRESSES = "/v1/users/1001/emergency-addresses"


def page_through(c: httpx.Client, path: str, limit: int) -> tuple[list[str], int]:
    """Every id, following `starting_after` until `has_more` is false; and the page count."""
    ids: list[str] = []
    pages = 0
    cursor: dict[str, Any] = {}
    while True:
        response = c.get(path, params={"limit": limit, **cursor})
        assert response.status_code == 200, response.text
        pages += 1
        page = response.json()
        ids += [a["id"] for a in page["data"]]
        if not page["has_more"]:
            return ids, pages
        cursor = {"starting_after": page["data"][-1]["id"]}


def test_user_saves_lists_binds_clears_and_deletes_addresses(
    user_client: UserClient,
) -> None:
    """The SDK's whole life cycle with the user's own token, from the device's address."""
    phone = user_client("1001", source="127.0.0.7")
    saved = []
    for number in ("301", "303", "305", "307", "309"):
        response = phone.post(ADDRESSES, json=wss(house_number=number, label=f"desk {number}"))
        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["location"] == f"{ADDRESSES}/{body['id']}"
        assert (body["user"], body["label"], body["binding"]) == (
            "1001", f"desk {number}", None)
        assert body["address"]["house_number"] == number
        assert body["address"]["street_name"] == "LARAMIE"
        assert [w["code"] for w in body["warnings"]] == ["similar_street"]
        saved.append(body["id"])

    ids, pages = page_through(phone, ADDRESSES, limit=2)
    assert (ids, pages) == (saved, 3)

    one = phone.get(f"{ADDRESSES}/{saved[1]}")
    assert one.status_code == 200
    assert "warnings" not in one.json()
    assert one.json()["address"]["house_number"] == "303"

    bound = phone.put(f"{ADDRESSES}/{saved[1]}/registered-ip")
    assert bound.status_code == 200, bound.text
    binding = bound.json()["binding"]
    assert (binding["network"], binding["registered_ip"]) == ("127.0.0.7/32", "127.0.0.7")

    here = phone.get("/v1/users/1001/location")
    assert here.status_code == 200
    located = here.json()
    assert (located["ip"], located["located"], located["source"], located["address_id"],
            located["network"], located["reason"]) == (
        "127.0.0.7", True, "binding", saved[1], "127.0.0.7/32", None)
    assert located["address"]["house_number"] == "303"
    elsewhere = phone.get("/v1/users/1001/location", params={"ip": "198.51.100.9"})
    assert elsewhere.json() == {
        "ip": "198.51.100.9", "located": False, "source": None, "reason": "no_binding",
        "address_id": None, "network": None, "network_id": None, "address": None}

    # Binding another address on the same network moves the network to it.
    moved = phone.put(f"{ADDRESSES}/{saved[2]}/registered-ip")
    assert moved.json()["binding"]["network"] == "127.0.0.7/32"
    assert phone.get(f"{ADDRESSES}/{saved[1]}").json()["binding"] is None
    assert phone.get("/v1/users/1001/location").json()["address_id"] == saved[2]

    cleared = phone.delete(f"{ADDRESSES}/{saved[2]}/registered-ip")
    assert cleared.status_code == 200
    assert cleared.json()["binding"] is None
    assert phone.get("/v1/users/1001/location").json()["located"] is False

    assert phone.delete(f"{ADDRESSES}/{saved[0]}").status_code == 204
    assert phone.get(f"{ADDRESSES}/{saved[0]}").status_code == 404
    gone = phone.delete(f"{ADDRESSES}/{saved[0]}")
    assert gone.status_code == 404
    assert gone.json() == {"error": {"type": "not_found",
                                     "message": f"address {saved[0]!r} not found",
                                     "fields": []}}
    assert page_through(phone, ADDRESSES, limit=100) == (saved[1:], 1)


def test_invalid_address_is_422_with_suggestions_and_nothing_stored(
    user_client: UserClient,
) -> None:
    """"E Laramee St" is refused with both real streets suggested; the list stays empty."""
    phone = user_client("1001")
    response = phone.post(ADDRESSES, json=wss(street="E Laramee St", label="home"))
    assert response.status_code == 422
    assert response.json() == {"error": {
        "type": "validation_error",
        "message": "the address did not validate against the MSAG",
        "fields": [{
            "field": "street", "code": "unknown_street",
            "message": "street 'E Laramee St' is not in the MSAG for WHITE SULPHUR SPRINGS; "
                       "check the spelling or pick one of the suggestions",
            "suggestions": ["E LARAMIE ST", "E LARIME ST"]}]}}
    missing = phone.post(ADDRESSES, json={"country": "US", "label": "x"})
    assert missing.status_code == 422
    assert [(f["field"], f["code"]) for f in missing.json()["error"]["fields"]] == [
        ("state", "required"), ("postal_code", "required"), ("street", "required"),
        ("city", "required"), ("house_number", "missing_house_number")]
    assert phone.get(ADDRESSES).json() == {"data": [], "has_more": False}


def test_only_an_admin_token_may_name_the_ip(
    user_client: UserClient, admin: httpx.Client,
) -> None:
    """A user binding `ip` in the body is 403; an administrator (a PBX) may."""
    phone = user_client("1001")
    address_id = phone.post(ADDRESSES, json=wss()).json()["id"]
    refused = phone.put(f"{ADDRESSES}/{address_id}/registered-ip", json={"ip": "192.0.2.44"})
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "forbidden"
    by_pbx = admin.put(f"{ADDRESSES}/{address_id}/registered-ip", json={"ip": "192.0.2.44"})
    assert by_pbx.status_code == 200
    assert by_pbx.json()["binding"]["network"] == "192.0.2.44/32"
    bad = admin.put(f"{ADDRESSES}/{address_id}/registered-ip", json={"ip": "192.0.2.444"})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["code"] == "invalid_ip"
    located = admin.get("/v1/users/1001/location", params={"ip": "192.0.2.44"}).json()
    assert (located["located"], located["address_id"]) == (True, address_id)
    assert admin.get("/v1/users/1001/location",
                     params={"ip": "not-an-ip"}).status_code == 400


def test_list_limit_and_cursor_are_checked(user_client: UserClient) -> None:
    """limit 0 and 101 are 400 naming `limit`; an unknown cursor gives an empty page."""
    phone = user_client("1001")
    for limit in (0, 101):
        response = phone.get(ADDRESSES, params={"limit": limit})
        assert response.status_code == 400
        assert response.json()["error"]["fields"][0]["field"] == "limit"
    assert phone.get(ADDRESSES, params={"starting_after": "adr_zzzz"}).json() == {
        "data": [], "has_more": False}


KIFF_OVERLAPPING_TEXT = (
    "msag_id,country,state,county,msag_community,postal_community,zip,pre_dir,street_name,"
    "street_type,post_dir,low,high,parity,esn,exchange,psap_id,effective_date,expire_date,"
    "source\n"
    "A,US,MT,MEAGHER,RINGLING,RINGLING,59642,,KIFF,RD,,1,199,O,00120,,PSAP-A,,,test\n"
    "B,US,MT,BROADWATER,RINGLING,RINGLING,59642,,KIFF,RD,,101,299,O,00140,,PSAP-B,,,test\n"
)


def wait_for_201(c: httpx.Client, path: str, body: dict[str, str],
                 timeout_seconds: float = 15.0) -> httpx.Response:
    """POST until the API's MSAG index has picked up a new import (it checks the version
    every few seconds), bounded in time."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        response = c.post(path, json=body)
        if response.status_code == 201 or time.monotonic() > deadline:
            assert response.status_code == 201, response.text
            return response
        time.sleep(0.2)


def test_address_in_an_esn_conflict_is_saved_without_an_esn(
        admin: httpx.Client, store: Store) -> None:
    """A real address whose MSAG rows disagree on the ESN is saved (it exists) with no ESN,
    never one picked at random, and the response says why."""
    store.replace_msag(parse_msag_csv(KIFF_OVERLAPPING_TEXT))
    address = {"country": "US", "house_number": "151", "street": "Kiff Rd", "city": "Ringling",
               "state": "MT", "postal_code": "59645"}
    created = wait_for_201(admin, "/v1/users/1001/emergency-addresses", address)
    body = created.json()
    assert (body["address"]["esn"], body["address"]["msag_id"]) == ("", "")
    assert body["address"]["postal_code"] == "59642"  # both rows' ZIP, not the typed 59645
    conflict = [w for w in body["warnings"] if w["code"] == "esn_conflict"]
    assert len(conflict) == 1
    assert conflict[0]["suggestions"] == ["ESN 00120 (A)", "ESN 00140 (B)"]
    saved = store.get_address("acct_default", "1001", body["id"])
    assert (saved.address.msag_id, saved.address.esn, saved.address.esn_conflict) == (
        "", "", True)
