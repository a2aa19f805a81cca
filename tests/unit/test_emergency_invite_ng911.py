"""NG911 form of the emergency INVITE (issue 18 deliverable 4): urn:service:sos with the trunk
as Route, and RFC 7852 additional data by value, built as data and checked like a strict
ESInet would; the carrier form stays exactly as it was."""

from __future__ import annotations

import re

import pytest

from router.call.additional_data import ProviderIdentity
from router.call.emergency_invite import (
    SOS_SERVICE_URN,
    RequestUriMode,
    build_emergency_invite,
    trunk_route,
)
from tests.support.invite_samples import ADDRESS, CALLER, PIDF, SDP
from tests.support.pidf_check import (
    InviteExpectation,
    assert_emergency_invite,
    build_raw_invite,
    extract_location_parts,
    validate_additional_data,
)

TRUNK = "sip:psap-trunk.example.org:5080;transport=udp"
PROVIDER = ProviderIdentity(name="Example Voice Inc",
                            contact_uri="sip:+12025550100@noc.example.net",
                            provider_id="EXV1")


def _sos(user: str = "911", *, pidf: bytes | None = PIDF) -> str:
    content = build_emergency_invite(
        callback=CALLER, trunk_uri=TRUNK, language="en", dialled_user=user, pidf=pidf,
        location_token="7c1e", request_uri_mode=RequestUriMode.SOS, provider=PROVIDER)
    return build_raw_invite(content, SDP)


def test_carrier_mode_is_the_default_and_unchanged() -> None:
    """Without the setting (and with it set to trunk) the INVITE is byte for byte today's."""
    default = build_emergency_invite(callback=CALLER, trunk_uri=TRUNK, language="en",
                                     pidf=PIDF, location_token="7c1e")
    explicit = build_emergency_invite(callback=CALLER, trunk_uri=TRUNK, language="en",
                                      pidf=PIDF, location_token="7c1e",
                                      request_uri_mode=RequestUriMode.TRUNK, provider=PROVIDER)
    assert build_raw_invite(default, SDP) == build_raw_invite(explicit, SDP)
    assert default.request_uri == "sip:911@psap-trunk.example.org:5080;transport=udp"
    assert default.route == "" and default.additional_parts == ()
    assert default.header("Call-Info") is None
    assert_emergency_invite(build_raw_invite(default, SDP), InviteExpectation(
        callback_number="+12025550123", civic=ADDRESS, additional_data=False))


def test_sos_mode_sends_service_urn_route_and_three_blocks() -> None:
    """911 in SOS mode: R-URI urn:service:sos, the trunk as a loose Route, Call-Info naming
    ProviderInfo, ServiceInfo and SubscriberInfo parts, the PIDF-LO still valid."""
    raw = _sos()
    captured = assert_emergency_invite(raw, InviteExpectation(
        request_user=None, request_uri=SOS_SERVICE_URN, callback_number="+12025550123",
        display_name="ACME Widgets Reception", civic=ADDRESS, language="en",
        additional_data=True))
    assert captured.message.start_line == "INVITE urn:service:sos SIP/2.0"
    assert captured.message.values("Route") == [
        "<sip:psap-trunk.example.org:5080;transport=udp;lr>"]
    assert captured.message.values("Call-Info") == [
        "<cid:pi-7c1e@voip.example.net>;purpose=EmergencyCallData.ProviderInfo",
        "<cid:svc-7c1e@voip.example.net>;purpose=EmergencyCallData.ServiceInfo",
        "<cid:sub-7c1e@voip.example.net>;purpose=EmergencyCallData.SubscriberInfo",
    ]
    media = [p.media_type for p in captured.body.parts]
    assert media == ["application/pidf+xml", "application/emergencycalldata.providerinfo+xml",
                     "application/emergencycalldata.serviceinfo+xml",
                     "application/emergencycalldata.subscriberinfo+xml", "application/sdp"]


def test_subscriber_block_names_the_caller_as_the_pai_does() -> None:
    """SubscriberInfo carries the P-Asserted-Identity's display name and callback number."""
    parts = extract_location_parts(_sos()).parts
    subscriber = next(p.body.decode() for p in parts if "subscriberinfo" in p.media_type)
    assert "<xc:text>ACME Widgets Reception</xc:text>" in subscriber
    assert "<xc:uri>tel:+12025550123</xc:uri>" in subscriber
    assert 'privacyRequested="false"' in subscriber
    provider = next(p.body.decode() for p in parts if "providerinfo" in p.media_type)
    assert re.search(r"<DataProviderString>Example Voice Inc</DataProviderString>", provider)
    assert "<ContactURI>sip:+12025550100@noc.example.net</ContactURI>" in provider


def test_sos_mode_without_location_still_sends_the_blocks() -> None:
    """An unlocated 911 to an ESInet: no Geolocation, but the additional data goes."""
    assert_emergency_invite(_sos(pidf=None), InviteExpectation(
        request_user=None, request_uri=SOS_SERVICE_URN, has_location=False,
        additional_data=True))


def test_933_keeps_the_carrier_form_in_sos_mode() -> None:
    """A 933 readback is the carrier's, not a PSAP's: sip:933@trunk, no blocks."""
    content = build_emergency_invite(
        callback=CALLER, trunk_uri=TRUNK, language="en", dialled_user="933", pidf=PIDF,
        location_token="7c1e", request_uri_mode=RequestUriMode.SOS, provider=PROVIDER)
    assert content.request_uri == "sip:933@psap-trunk.example.org:5080;transport=udp"
    assert content.route == "" and content.additional_parts == ()


def test_sos_mode_needs_a_provider() -> None:
    """No provider identity, no NG911 form: refused before anything is sent."""
    with pytest.raises(ValueError, match="provider"):
        build_emergency_invite(callback=CALLER, trunk_uri=TRUNK, language="en",
                               request_uri_mode=RequestUriMode.SOS)


def test_trunk_route_is_a_loose_route_to_the_trunk() -> None:
    """The trunk's user part and headers go; scheme, host, port, params stay; lr added."""
    assert trunk_route("<sips:911@[2001:db8::1]:5061;transport=tls?x=y>") == (
        "<sips:[2001:db8::1]:5061;transport=tls;lr>")


@pytest.mark.parametrize(("purpose", "mutate", "problem"), [
    ("EmergencyCallData.ProviderInfo", ("<ContactURI>", "<ContactURl>"), "no ContactURI"),
    ("EmergencyCallData.SubscriberInfo", ('privacyRequested="false"', 'privacyRequested="no"'),
     "privacyRequested"),
    ("EmergencyCallData.SubscriberInfo", ("tel:+12025550123", "tel:2025550123"), "tel: URI"),
    ("EmergencyCallData.ServiceInfo", ("<ServiceType>VOIP</ServiceType>", ""),
     "no ServiceType"),
])
def test_checker_finds_broken_blocks(purpose: str, mutate: tuple[str, str], problem: str) -> None:
    """The block checker fails a block missing a required child or with a bad value."""
    parts = extract_location_parts(_sos()).parts
    body = next(p.body.decode() for p in parts
                if p.media_type == f"application/{purpose.lower()}+xml")
    assert validate_additional_data(body.encode(), purpose) == []
    broken = body.replace(mutate[0], mutate[1]).replace(
        mutate[0].replace("<", "</"), mutate[1].replace("<", "</"))
    assert any(problem in p for p in validate_additional_data(broken.encode(), purpose))


def test_checker_refuses_a_call_info_naming_no_part() -> None:
    """A Call-Info cid: URL must name a body part (RFC 7852 s4.1)."""
    raw = _sos().replace("<cid:svc-7c1e@", "<cid:svc-0000@", 1)
    with pytest.raises(AssertionError, match="names no body part"):
        assert_emergency_invite(raw, InviteExpectation(
            request_user=None, request_uri=SOS_SERVICE_URN, additional_data=True))


def test_no_callback_carrier_form_keeps_the_location_without_pai() -> None:
    """callback=None (no number known): Priority, Geolocation and the PIDF-LO as usual, no
    P-Asserted-Identity; the Content-ID uses the host given."""
    content = build_emergency_invite(callback=None, host="voip.example.net", trunk_uri=TRUNK,
                                     language="en", pidf=PIDF, location_token="7c1e")
    assert content.headers == (
        ("Priority", "emergency"),
        ("Geolocation", "<cid:loc-7c1e@voip.example.net>"),
        ("Geolocation-Routing", "yes"),
    )
    assert_emergency_invite(build_raw_invite(content, SDP), InviteExpectation(
        asserted_identity=False, civic=ADDRESS, additional_data=False))


def test_no_callback_sos_form_sends_only_the_blocks_true_without_a_number() -> None:
    """SOS with callback=None: urn:service:sos + Route, the PIDF-LO, ProviderInfo and
    ServiceInfo; no SubscriberInfo (it would name a number nobody has)."""
    content = build_emergency_invite(
        callback=None, host="voip.example.net", trunk_uri=TRUNK, language="en", pidf=PIDF,
        location_token="7c1e", request_uri_mode=RequestUriMode.SOS, provider=PROVIDER)
    assert content.route == trunk_route(TRUNK)
    assert_emergency_invite(build_raw_invite(content, SDP), InviteExpectation(
        request_user=None, request_uri=SOS_SERVICE_URN, asserted_identity=False,
        civic=ADDRESS, additional_data=True))
    assert [p.content_subtype for p in content.additional_parts] == [
        "EmergencyCallData.ProviderInfo+xml", "EmergencyCallData.ServiceInfo+xml"]


def test_no_callback_needs_a_host() -> None:
    """Without a callback identity the host must be given (Content-ID domain, RFC 2392)."""
    with pytest.raises(ValueError, match="host"):
        build_emergency_invite(callback=None, trunk_uri=TRUNK, language="en", pidf=PIDF)


def test_checker_refuses_a_pai_where_no_callback_is_known() -> None:
    """The checker's no-callback expectation fails an INVITE that asserts an identity."""
    content = build_emergency_invite(callback=CALLER, trunk_uri=TRUNK, language="en",
                                     pidf=PIDF)
    with pytest.raises(AssertionError, match="want none"):
        assert_emergency_invite(build_raw_invite(content, SDP),
                                InviteExpectation(asserted_identity=False))
