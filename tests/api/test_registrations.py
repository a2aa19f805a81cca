"""`POST /v1/registrations` over real HTTP on both engines (issue 17): a device seen when it
registers raises `network.changed` on `/v1/events` before any call, exactly once."""

from __future__ import annotations

import httpx

from router.location.model import DEFAULT_ACCOUNT_ID
from router.store.store import Store
from tests.support.api_server import UserClient, assert_error_shape, wss
from tests.support.event_stream import Stream, stream

REGINFO = """<?xml version="1.0"?>
<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">
  <registration aor="sip:1001@pbx.example.net" id="0x1" state="active">
    <contact id="0x2" state="{state}" event="registered" expires="600"
             received="sip:{ip}:41234"><uri>sip:1001@10.0.0.5:5060</uri></contact>
  </registration>
</reginfo>"""
XML = {"Content-Type": "application/reginfo+xml"}


def reginfo(ip: str, state: str = "active") -> bytes:
    return REGINFO.format(ip=ip, state=state).encode()


def bound_at_home(user_client: UserClient) -> str:
    """User 1001 saves an address and binds it from 127.0.0.7 (home); returns its id."""
    phone = user_client("1001", source="127.0.0.7")
    address_id: str = phone.post("/v1/users/1001/emergency-addresses", json=wss()).json()["id"]
    assert phone.put(
        f"/v1/users/1001/emergency-addresses/{address_id}/registered-ip").status_code == 200
    return address_id


def next_is_sentinel(events: Stream, store: Store) -> None:
    """Nothing else was written: the next event on the stream is one we append now."""
    sentinel = store.record_event(DEFAULT_ACCOUNT_ID, "notification.sent", {"n": 1})
    assert events.next_event()["id"] == sentinel.id


def test_registration_raises_network_changed_on_the_stream_once(
    admin: httpx.Client, user_client: UserClient, store: Store
) -> None:
    """Registered from an unbound network: one `network.changed` at registration, before any
    call; the re-registrations (JSON and reginfo) are silent."""
    bound_at_home(user_client)
    with stream(admin) as events:
        first = admin.post("/v1/registrations", json={
            "user": "1001", "ip": "198.51.100.20", "state": "registered",
            "contact": "sip:1001@10.0.0.5:5060", "expires": 600})
        assert first.status_code == 200, first.text
        [applied] = first.json()["applied"]
        assert applied["network_changed"].startswith("evt_")
        received = events.next_event()
        assert (received["id"], received["type"], received["user"], received["data"]) == (
            applied["network_changed"], "network.changed", "1001",
            {"user": "1001", "network": "198.51.100.20/32", "ip": "198.51.100.20"})
        again = admin.post("/v1/registrations", json={
            "user": "sip:1001@pbx.example.net", "ip": "198.51.100.20",
            "state": "registered", "contact": "sip:1001@10.0.0.5:5060"})
        assert again.json() == {"applied": [{"user": "1001", "ip": "198.51.100.20",
                                             "state": "registered", "network_changed": None}],
                                "skipped": []}
        refreshed = admin.post("/v1/registrations", content=reginfo("198.51.100.20"),
                               headers=XML)
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["applied"][0]["network_changed"] is None
        next_is_sentinel(events, store)


def test_reginfo_from_the_known_network_rebinds_silently(
    admin: httpx.Client, user_client: UserClient, store: Store
) -> None:
    """A reginfo NOTIFY body from the bound network raises nothing, and that address is the
    one a call from there carries."""
    address_id = bound_at_home(user_client)
    with stream(admin) as events:
        answer = admin.post("/v1/registrations", content=reginfo("127.0.0.7"), headers=XML)
        assert answer.status_code == 200, answer.text
        assert answer.json()["applied"] == [{"user": "1001", "ip": "127.0.0.7",
                                             "state": "registered", "network_changed": None}]
        next_is_sentinel(events, store)
    located = admin.get("/v1/users/1001/location", params={"ip": "127.0.0.7"}).json()
    assert (located["source"], located["address_id"]) == ("binding", address_id)


def test_unauthenticated_or_user_token_is_refused_and_nothing_believed(
    anon: httpx.Client, user_client: UserClient, store: Store
) -> None:
    """No token: 401; a user token (a device speaking for itself): 403; no event written."""
    bound_at_home(user_client)
    phone = user_client("1001")
    fact = {"user": "1001", "ip": "198.51.100.20", "state": "registered"}
    refused = [anon.post("/v1/registrations", json=fact),
               phone.post("/v1/registrations", json=fact),
               phone.post("/v1/registrations", content=reginfo("198.51.100.20"), headers=XML)]
    assert [r.status_code for r in refused] == [401, 403, 403]
    for r in refused:
        assert_error_shape(r.json())
    assert store.list_events(DEFAULT_ACCOUNT_ID) == []


def test_bad_bodies_get_their_codes(admin: httpx.Client, store: Store) -> None:
    """XXE reginfo, a bad ip or user, another media type and an oversized body are refused
    in the error shape, and nothing is written."""
    xxe = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<reginfo xmlns="urn:ietf:params:xml:ns:reginfo"/>')
    cases = [
        (admin.post("/v1/registrations", content=xxe, headers=XML), 422, "doctype"),
        (admin.post("/v1/registrations", json={"user": "1001", "ip": "pbx.example.net",
                                               "state": "registered"}), 422, "invalid_ip"),
        (admin.post("/v1/registrations", json={"user": "10 01", "ip": "192.0.2.1",
                                               "state": "registered"}), 422, "invalid_user"),
        (admin.post("/v1/registrations", json={"user": "1001", "ip": "192.0.2.1",
                                               "state": "online"}), 422, "literal_error"),
        (admin.post("/v1/registrations", content=b"user=1001",
                    headers={"Content-Type": "text/plain"}), 400, None),
        (admin.post("/v1/registrations", content=b"<r/>" + b" " * 70_000, headers=XML),
         413, None),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert_error_shape(body)
        if code is not None:
            assert [f["code"] for f in body["error"]["fields"]] == [code]
    assert store.list_events(DEFAULT_ACCOUNT_ID) == []
