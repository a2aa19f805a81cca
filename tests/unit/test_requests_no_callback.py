"""`build_request` for a located 911 when no callback number is known (router.call.trunk_request):
the PIDF-LO goes with the call all the same, with no P-Asserted-Identity. Pure, no pjsua2."""

from __future__ import annotations

from datetime import UTC, datetime

from router.call.additional_data import ProviderIdentity
from router.call.emergency_invite import SOS_SERVICE_URN, RequestUriMode
from router.call.trunk_request import build_request, callback_number, pidf_of
from router.pidf import from_pidf
from tests.support.pidf_check import validate_additional_data, validate_pidf
from tests.support.routed_calls import routed_call
from tests.support.seeded_store import OFFICE

HOST = "voip.example.net"
NOW = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
PROVIDER = ProviderIdentity(name="Example Voice Inc",
                            contact_uri="sip:+12025550100@noc.example.net")


def _names(headers: tuple[tuple[str, str], ...]) -> list[str]:
    return [name for name, _ in headers]


def test_located_911_without_callback_carries_its_pidf_lo() -> None:
    """Carrier form: sip:911@trunk, Priority, Geolocation naming the PIDF-LO part, no PAI;
    the PIDF-LO is schema-valid and names the caller's address."""
    routed = routed_call("911", located=True, callback=False)
    assert callback_number(routed) == ""
    request = build_request(routed, 0, host=HOST, now=NOW)
    assert request.uri == "sip:911@10.0.0.1:5060"
    headers = dict(request.headers)
    assert "P-Asserted-Identity" not in headers
    assert headers["Priority"] == "emergency"
    assert headers["Geolocation-Routing"] == "yes"
    (part,) = request.parts
    assert part.content_type == "application/pidf+xml"
    assert headers["Geolocation"] == f"<cid:{dict(part.headers)['Content-ID'].strip('<>')}>"
    pidf = pidf_of(request).encode()
    assert validate_pidf(pidf) == []
    assert from_pidf(pidf) == OFFICE
    assert b'entity="pres:unknown@voip.example.net"' in pidf


def test_located_911_without_callback_in_sos_mode_sends_provider_and_service_blocks() -> None:
    """NG911 form: urn:service:sos with the trunk as Route, the PIDF-LO, and only the blocks
    that are true without a number (ProviderInfo, ServiceInfo; no SubscriberInfo)."""
    routed = routed_call("911", located=True, callback=False)
    request = build_request(routed, 0, host=HOST, now=NOW,
                            request_uri_mode=RequestUriMode.SOS, provider=PROVIDER)
    assert request.uri == SOS_SERVICE_URN
    assert request.route == "<sip:10.0.0.1:5060;lr>"
    assert "P-Asserted-Identity" not in _names(request.headers)
    purposes = [v.rpartition("purpose=")[2] for n, v in request.headers if n == "Call-Info"]
    assert purposes == ["EmergencyCallData.ProviderInfo", "EmergencyCallData.ServiceInfo"]
    media = [p.content_type for p in request.parts]
    assert media == ["application/pidf+xml",
                     "application/EmergencyCallData.ProviderInfo+xml",
                     "application/EmergencyCallData.ServiceInfo+xml"]
    assert validate_pidf(pidf_of(request).encode()) == []
    for part, purpose in zip(request.parts[1:], purposes, strict=True):
        assert validate_additional_data(part.body.encode(), purpose) == []


def test_unlocated_911_without_callback_is_priority_only() -> None:
    """No location and no number: the sorting center gets Priority and nothing else."""
    request = build_request(routed_call("911", located=False, callback=False), 0, host=HOST)
    assert request.uri == "sip:911@10.0.0.9:5060"
    assert request.headers == (("Priority", "emergency"),)
    assert request.parts == ()
