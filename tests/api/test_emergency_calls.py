"""`GET /v1/emergency-calls/{call_ref}`: a call's contact notifications, from the outbox."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from router.location.model import DEFAULT_ACCOUNT_ID
from router.notify.model import EmergencyCallNotice
from router.notify.outbox import Outbox
from router.store.store import Store
from tests.support.api_server import UserClient

PLACED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(store: Store, call_ref: str, sip_user: str) -> None:
    notice = EmergencyCallNotice(
        call_ref=call_ref, account_id=DEFAULT_ACCOUNT_ID, placed_at=PLACED,
        caller_display_name="Alice", callback_number="+14065473911",
        address_lines=("301 E LARAMIE ST", "WHITE SULPHUR SPRINGS MT 59645"),
        sip_user=sip_user, dialed="911")
    assert Outbox(store).record_call(notice, now=PLACED)


def test_admin_sees_any_call_and_a_user_only_their_own(
    admin: httpx.Client, user_client: UserClient, store: Store,
) -> None:
    """The record with one pending delivery a contact; another user's call is 404."""
    store.set_contacts(DEFAULT_ACCOUNT_ID, ["ops@example.com", "security@example.com"])
    record(store, "call_alice_1", "1001")
    record(store, "call_bob_1", "1002")
    seen = admin.get("/v1/emergency-calls/call_alice_1")
    assert seen.status_code == 200
    body = seen.json()
    assert (body["call_ref"], body["account_id"], body["test_call"], body["location_sent"],
            body["placed_at"]) == ("call_alice_1", DEFAULT_ACCOUNT_ID, False, True,
                                   "2026-03-01T12:00:00Z")
    assert [(d["recipient"], d["state"], d["attempts"]) for d in body["deliveries"]] == [
        ("ops@example.com", "pending", 0), ("security@example.com", "pending", 0)]
    assert body["summary"]["pending"] == 2

    alice = user_client("1001")
    assert alice.get("/v1/emergency-calls/call_alice_1").json() == body
    not_hers = alice.get("/v1/emergency-calls/call_bob_1")
    assert not_hers.status_code == 404
    assert not_hers.json()["error"] == {
        "type": "not_found", "message": "emergency call 'call_bob_1' not found", "fields": []}
    assert admin.get("/v1/emergency-calls/call_nobody").status_code == 404
