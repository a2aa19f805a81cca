"""Issue 18 through the API: an address's postal code is the MSAG's in the stored row and in
the PIDF-LO built from it, and the emergency settings report every field error at once."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from router.location.model import Located
from router.pidf import from_pidf, to_pidf
from router.store.store import Store
from tests.support.api_server import UserClient, wss
from tests.support.msag_prattville import prattville, prattville_msag
from tests.support.pidf_check import validate_pidf

ADDRESSES = "/v1/users/1001/emergency-addresses"
SETTINGS = "/v1/account/emergency-settings"
CORRECTED = {"field": "postal_code", "code": "postal_code_corrected",
             "message": "postal code 94105 is not the MSAG's for 250 E MAIN ST in PRATTVILLE; "
                        "the MSAG says 36067, so 36067 is used",
             "suggestions": ["36067"]}


def test_saved_address_and_its_pidf_lo_carry_the_msag_postal_code(
        user_client: UserClient, store: Store) -> None:
    """250 E Main St, Prattville, AL 94105 is saved as 36067 (warning naming both); the row,
    the located address and the schema-valid PIDF-LO built from it say 36067, never 94105."""
    store.replace_msag(prattville_msag())
    phone = user_client("1001", source="127.0.0.7")
    created = phone.post(ADDRESSES, json=prattville(label="office"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["address"]["postal_code"], body["address"]["plus4"]) == ("36067", "")
    assert body["warnings"] == [CORRECTED]

    saved = store.get_address("acct_default", "1001", body["id"])
    assert saved.address.civic.postal_code == "36067"
    assert phone.put(f"{ADDRESSES}/{body['id']}/registered-ip").status_code == 200
    located = store.locate("acct_default", "1001", "127.0.0.7")
    assert isinstance(located, Located) and located.address_id == body["id"]
    pidf = to_pidf(located.civic, entity="pres:+13345550100@router.example",
                   device_id="urn:uuid:6f1c0c5e-4e5b-4c47-9d9a-1c2d3e4f5a6b",
                   timestamp=datetime(2026, 12, 7, 21, 0, tzinfo=UTC))
    assert validate_pidf(pidf) == []
    assert from_pidf(pidf).postal_code == "36067"
    assert b"94105" not in pidf


def test_default_address_postal_code_is_the_msags(admin: httpx.Client, store: Store) -> None:
    """The administrator's default address goes through the same correction."""
    store.replace_msag(prattville_msag())
    response = admin.put(SETTINGS, json={"default_address": prattville()})
    assert response.status_code == 200, response.text
    assert response.json()["default_address"]["postal_code"] == "36067"
    assert response.json()["warnings"] == [{**CORRECTED,
                                            "field": "default_address.postal_code"}]
    default = store.get_account("acct_default").default_address
    assert default is not None and default.civic.postal_code == "36067"


def test_emergency_settings_report_every_field_error_at_once(admin: httpx.Client,
                                                             store: Store) -> None:
    """A bad callback language no longer hides the display name, number, contact and
    address errors: one 422 lists them all, and nothing is stored."""
    before = store.get_account("acct_default")
    response = admin.put(SETTINGS, json={
        "default_address": wss(street="E Laramee St"),
        "emergency_contacts": ["security@example.com", "not an e-mail"],
        "callback": {"display_name": "Acme <Support>", "number": "555", "language": "de"},
    })
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    assert [(f["field"], f["code"]) for f in fields] == [
        ("default_address.street", "unknown_street"),
        ("emergency_contacts.1", "invalid_email"),
        ("callback.display_name", "invalid_display_name"),
        ("callback.number", "invalid_phone_number"),
        ("callback.language", "literal_error"),
    ]
    language = fields[-1]
    assert language["message"] == "callback.language must be one of en, es, fr (got 'de')"
    assert language["suggestions"] == ["en", "es", "fr"]
    after = store.get_account("acct_default")
    assert (after.default_address, after.contacts, after.callback) == (
        before.default_address, before.contacts, before.callback)

