"""`GET /v1/events` over HTTP: a device on a new network shows up on the stream."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from router.location.model import DEFAULT_ACCOUNT_ID, Unlocated, UnlocatedReason
from router.location.view import LocationView
from router.store.store import Store, open_store
from tests.support.api_server import UserClient, wss
from tests.support.event_stream import Stream, stream


@contextmanager
def worker_view(store_url: str) -> Iterator[LocationView]:
    """A SIP worker's in-memory view on its own connection to the same database."""
    worker_store = open_store(store_url)
    view = LocationView(worker_store, poll_interval_seconds=0.02).start()
    try:
        assert view.wait_for_seq(worker_store.change_seq(), timeout=10)
        yield view
    finally:
        view.stop()
        worker_store.close()


def test_device_on_a_new_network_shows_up_on_the_event_stream(
    user_client: UserClient, admin: httpx.Client, store_url: str,
) -> None:
    """A worker's lookup of a user from an unbound network becomes `network.changed` on the
    administrator's stream and the user's own, with the network and IP."""
    phone = user_client("1001", source="127.0.0.7")
    address_id = phone.post("/v1/users/1001/emergency-addresses", json=wss()).json()["id"]
    assert phone.put(
        f"/v1/users/1001/emergency-addresses/{address_id}/registered-ip").status_code == 200
    with stream(admin) as admin_events, stream(phone) as user_events:
        assert admin_events.preamble == {"retry": "2000", "comment": "connected"}
        with worker_view(store_url) as view:
            assert view.wait_for_seq(0, timeout=10)
            seen = view.locate(DEFAULT_ACCOUNT_ID, "1001", "198.51.100.20")
            assert seen == Unlocated(UnlocatedReason.NO_BINDING)
        for received in (admin_events.next_event(), user_events.next_event()):
            assert received["type"] == "network.changed"
            assert (received["account"], received["user"]) == (DEFAULT_ACCOUNT_ID, "1001")
            assert received["data"] == {"user": "1001", "network": "198.51.100.20/32",
                                        "ip": "198.51.100.20"}
            assert received["id"].startswith("evt_")


def test_user_stream_carries_only_the_users_own_events(
    user_client: UserClient, store: Store,
) -> None:
    """Bob's stream skips Alice's events, and internal event types never leave."""
    bob = user_client("1002")
    with stream(bob) as bob_events:
        store.record_event(DEFAULT_ACCOUNT_ID, "emergency_call.started", {"call_ref": "c1"},
                           sip_user="1001")
        store.record_event(DEFAULT_ACCOUNT_ID, "internal.detail", {"x": 1}, sip_user="1002")
        store.record_event(DEFAULT_ACCOUNT_ID, "notification.sent", {"call_ref": "c2"},
                           sip_user="1002")
        received = bob_events.next_event()
    assert (received["type"], received["user"], received["data"]) == (
        "notification.sent", "1002", {"call_ref": "c2"})


def test_last_event_id_resumes_after_the_last_event_seen(
    admin: httpx.Client, store: Store,
) -> None:
    """Reconnecting with Last-Event-ID gets the events after it, in order, none twice."""
    first = store.record_event(DEFAULT_ACCOUNT_ID, "emergency_call.started",
                               {"call_ref": "c1"}, sip_user="1001")
    second = store.record_event(DEFAULT_ACCOUNT_ID, "notification.sent", {"call_ref": "c1"},
                                sip_user="1001")
    third = store.record_event(DEFAULT_ACCOUNT_ID, "notification.failed", {"call_ref": "c1"},
                               sip_user="1001")
    with stream(admin, **{"Last-Event-ID": str(first.seq)}) as resumed:
        assert [resumed.next_event()["id"] for _ in range(2)] == [second.id, third.id]
    with stream(admin, **{"Last-Event-ID": "0"}) as everything:
        assert everything.next_event()["id"] == first.id
    bad = admin.get("/v1/events", headers={"Last-Event-ID": "evt_x"})
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"][0]["field"] == "Last-Event-ID"


def test_types_filter_and_unknown_types(admin: httpx.Client, store: Store) -> None:
    """`?types=` limits the stream; an unknown type is 400 with the known ones suggested."""
    with admin.stream("GET", "/v1/events", params={"types": "notification.failed"}) as response:
        assert response.status_code == 200
        only_failed = Stream(response)
        store.record_event(DEFAULT_ACCOUNT_ID, "notification.sent", {"n": 1})
        store.record_event(DEFAULT_ACCOUNT_ID, "notification.failed", {"n": 2})
        assert only_failed.next_event()["data"] == {"n": 2}
    unknown = admin.get("/v1/events", params={"types": "call.dropped"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["fields"][0]["suggestions"] == [
        "network.changed", "emergency_call.started", "notification.sent",
        "notification.failed"]
