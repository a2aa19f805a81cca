"""Talkdesk's administrator flow over HTTP: from nothing to emergency calling enabled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from router.metrics import REGISTRY
from tests.support.api_server import wss

SETTINGS = "/v1/account/emergency-settings"

WSS_301_E_LARAMIE: dict[str, str] = {
    "country": "US", "state": "MT", "county": "MEAGHER", "city": "WHITE SULPHUR SPRINGS",
    "community": "", "house_number": "301", "house_number_suffix": "",
    "prefix_directional": "E", "street_name": "LARAMIE", "street_suffix": "ST",
    "post_directional": "", "building": "", "floor": "", "unit": "STE 4", "room": "",
    "location_info": "", "postal_code": "59645", "plus4": "",
    "postal_community": "WHITE SULPHUR SPRINGS", "msag_id": "TIGER2024-ADDRFEAT-30059-000306",
    "esn": "00110",
}
SIMILAR_STREET_WARNING = {
    "field": "default_address.street", "code": "similar_street",
    "message": "E LARIME ST also exists in WHITE SULPHUR SPRINGS; make sure E LARAMIE ST is "
               "the right street",
    "suggestions": ["E LARIME ST"],
}


def validations(result: str) -> float:
    return REGISTRY.get_sample_value("e911_msag_validations_total", {"result": result}) or 0.0


def body_without_time(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    datetime.fromisoformat(body.pop("updated_at"))
    return body


def test_admin_goes_from_nothing_to_e911_enabled_over_http(admin: httpx.Client) -> None:
    """Empty settings; enable refused naming all three; address, contacts, callback; enable."""
    empty = admin.get(SETTINGS)
    assert empty.status_code == 200
    assert body_without_time(empty) == {
        "enabled": False, "default_address": None, "emergency_contacts": [], "callback": None,
        "missing": ["default_address", "emergency_contacts", "callback"], "warnings": []}

    refused = admin.put(SETTINGS, json={"enabled": True})
    assert refused.status_code == 409
    assert refused.json() == {"error": {
        "type": "emergency_settings_incomplete",
        "message": "emergency calling cannot be enabled until these are set: default_address, "
                   "emergency_contacts, callback",
        "fields": [
            {"field": "default_address", "code": "required", "suggestions": [],
             "message": "default_address is required to enable emergency calling: a default "
                        "address validated against the MSAG"},
            {"field": "emergency_contacts", "code": "required", "suggestions": [],
             "message": "emergency_contacts is required to enable emergency calling: at least "
                        "one emergency contact e-mail"},
            {"field": "callback", "code": "required", "suggestions": [],
             "message": "callback is required to enable emergency calling: a callback number "
                        "with display name and language"},
        ]}}

    address = admin.put(SETTINGS, json={"default_address": wss(street2="Suite 4")})
    assert address.status_code == 200
    assert body_without_time(address) == {
        "enabled": False, "default_address": WSS_301_E_LARAMIE, "emergency_contacts": [],
        "callback": None, "missing": ["emergency_contacts", "callback"],
        "warnings": [SIMILAR_STREET_WARNING]}

    contacts = admin.put(SETTINGS, json={"emergency_contacts": [
        "security@example.com", "Facilities-List@Example.COM"]})
    assert contacts.status_code == 200
    assert contacts.json()["emergency_contacts"] == [
        "security@example.com", "Facilities-List@example.com"]
    assert contacts.json()["missing"] == ["callback"]

    still_refused = admin.put(SETTINGS, json={"enabled": True})
    assert still_refused.status_code == 409
    assert [f["field"] for f in still_refused.json()["error"]["fields"]] == ["callback"]

    callback = admin.put(SETTINGS, json={"callback": {
        "display_name": "Acme Support", "number": "(406) 547-3911", "language": "es"}})
    assert callback.status_code == 200
    assert callback.json()["callback"] == {
        "display_name": "Acme Support", "number": "+14065473911", "language": "es"}
    assert callback.json()["missing"] == []

    enabled = admin.put(SETTINGS, json={"enabled": True})
    assert enabled.status_code == 200
    assert body_without_time(enabled) == {
        "enabled": True, "default_address": WSS_301_E_LARAMIE,
        "emergency_contacts": ["security@example.com", "Facilities-List@example.com"],
        "callback": {"display_name": "Acme Support", "number": "+14065473911",
                     "language": "es"},
        "missing": [], "warnings": []}
    assert body_without_time(admin.get(SETTINGS)) == body_without_time(enabled)


def test_everything_in_one_put_enables_at_once(admin: httpx.Client) -> None:
    """Address, contacts, callback and enabled together: one 200, enabled."""
    response = admin.put(SETTINGS, json={
        "default_address": wss(), "emergency_contacts": ["ops@example.com"],
        "callback": {"display_name": "Acme", "number": "+1 613 555 0199", "language": "fr"},
        "enabled": True})
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is True
    assert response.json()["callback"]["number"] == "+16135550199"


def test_clearing_a_setting_while_enabled_is_409_and_changes_nothing(
    admin: httpx.Client,
) -> None:
    """`null` contacts on an enabled account: refused, the contacts stay."""
    assert admin.put(SETTINGS, json={
        "default_address": wss(), "emergency_contacts": ["ops@example.com"],
        "callback": {"display_name": "Acme", "number": "4065473911", "language": "en"},
        "enabled": True}).status_code == 200
    refused = admin.put(SETTINGS, json={"emergency_contacts": None})
    assert refused.status_code == 409
    assert refused.json()["error"]["type"] == "emergency_settings_incomplete"
    assert admin.get(SETTINGS).json()["emergency_contacts"] == ["ops@example.com"]
    disabled = admin.put(SETTINGS, json={"enabled": False, "emergency_contacts": None})
    assert disabled.status_code == 200
    assert (disabled.json()["enabled"], disabled.json()["emergency_contacts"]) == (False, [])


def test_laramee_gets_per_field_422_with_both_real_streets_suggested(
    admin: httpx.Client,
) -> None:
    """A misspelt street is never corrected silently: E LARAMIE ST and E LARIME ST offered,
    and nothing is stored."""
    before = validations("invalid")
    response = admin.put(SETTINGS, json={"default_address": wss(street="E Laramee St")})
    assert response.status_code == 422
    assert response.json() == {"error": {
        "type": "validation_error",
        "message": "invalid field(s): default_address.street",
        "fields": [{
            "field": "default_address.street", "code": "unknown_street",
            "message": "street 'E Laramee St' is not in the MSAG for WHITE SULPHUR SPRINGS; "
                       "check the spelling or pick one of the suggestions",
            "suggestions": ["E LARAMIE ST", "E LARIME ST"]}]}}
    assert admin.get(SETTINGS).json()["default_address"] is None
    assert validations("invalid") == before + 1


def test_every_bad_field_is_reported_in_one_422(admin: httpx.Client) -> None:
    """Bad address, bad and duplicate e-mails, punctuation in the name and a UK number: one
    response lists each, and nothing is stored."""
    response = admin.put(SETTINGS, json={
        "default_address": wss(house_number="5001"),
        "emergency_contacts": ["ops@example.com", "not-an-email", "OPS@example.com",
                               "x@localhost"],
        "callback": {"display_name": "Acme, Inc.", "number": "+44 20 7946 0000",
                     "language": "en"}})
    assert response.status_code == 422
    fields = [(f["field"], f["code"]) for f in response.json()["error"]["fields"]]
    assert fields == [
        ("default_address.house_number", "house_number_out_of_range"),
        ("emergency_contacts.1", "invalid_email"),
        ("emergency_contacts.2", "duplicate"),
        ("emergency_contacts.3", "invalid_email"),
        ("callback.display_name", "invalid_display_name"),
        ("callback.number", "unsupported_country"),
    ]
    by_field = {f["field"]: f for f in response.json()["error"]["fields"]}
    assert by_field["default_address.house_number"]["suggestions"] == [
        "E LARAMIE ST: 300-798 even, 301-799 odd"]
    assert by_field["callback.display_name"]["suggestions"] == ["Acme Inc"]
    assert by_field["emergency_contacts.2"]["message"] == (
        "emergency_contacts.2 repeats emergency_contacts.0")
    stored = admin.get(SETTINGS).json()
    assert (stored["default_address"], stored["emergency_contacts"], stored["callback"]) == (
        None, [], None)


def test_contacts_are_one_to_ten(admin: httpx.Client) -> None:
    """An empty list and an eleventh address are refused with their own codes."""
    empty = admin.put(SETTINGS, json={"emergency_contacts": []})
    assert empty.status_code == 422
    assert [(f["field"], f["code"]) for f in empty.json()["error"]["fields"]] == [
        ("emergency_contacts", "required")]
    eleven = admin.put(SETTINGS, json={
        "emergency_contacts": [f"ops{i}@example.com" for i in range(11)]})
    assert eleven.status_code == 422
    assert eleven.json()["error"]["fields"][0]["field"] == "emergency_contacts"
    ten = admin.put(SETTINGS, json={
        "emergency_contacts": [f"ops{i}@example.com" for i in range(10)]})
    assert ten.status_code == 200
    assert len(ten.json()["emergency_contacts"]) == 10


def test_callback_language_and_unknown_fields_are_refused(admin: httpx.Client) -> None:
    """`de` is not a language we speak; `enable` (a typo) is an unknown field: both 422."""
    german = admin.put(SETTINGS, json={"callback": {
        "display_name": "Acme", "number": "4065473911", "language": "de"}})
    assert german.status_code == 422
    assert [(f["field"], f["code"]) for f in german.json()["error"]["fields"]] == [
        ("callback.language", "literal_error")]
    typo = admin.put(SETTINGS, json={"enable": True})
    assert typo.status_code == 422
    assert typo.json() == {"error": {
        "type": "validation_error", "message": "invalid field(s): enable",
        "fields": [{"field": "enable", "code": "unknown_field",
                    "message": "unknown field 'enable'", "suggestions": []}]}}
    wrong_type = admin.put(SETTINGS, json={"enabled": "yes"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["error"]["fields"][0]["field"] == "enabled"
