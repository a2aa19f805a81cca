"""router.call.emergency_invite: what the outgoing emergency INVITE carries, built as data."""

from __future__ import annotations

import pytest

from router.call.emergency_invite import (
    MULTIPART_MIXED,
    CallbackIdentity,
    build_emergency_invite,
    nanp_e164,
    render_multipart_body,
    trunk_request_uri,
)
from router.language import Language
from tests.support.invite_samples import ADDRESS, CALLER, PIDF, SDP
from tests.support.pidf_check import (
    InviteExpectation,
    assert_emergency_invite,
    build_raw_invite,
    extract_location_parts,
)


def test_emergency_invite_with_location_has_exact_headers_in_order() -> None:
    """PAI, Priority, Geolocation and Geolocation-Routing, exactly, in that order."""
    content = build_emergency_invite(
        callback=CALLER, trunk_uri="sip:psap-trunk.example.org:5080", language="en",
        pidf=PIDF, location_token="7c1e")
    assert content.request_uri == "sip:911@psap-trunk.example.org:5080"
    assert content.headers == (
        ("P-Asserted-Identity",
         '"ACME Widgets Reception" <sip:+12025550123@voip.example.net;user=phone>'),
        ("Priority", "emergency"),
        ("Geolocation", "<cid:loc-7c1e@voip.example.net>"),
        ("Geolocation-Routing", "yes"),
    )
    assert content.content_id == "loc-7c1e@voip.example.net"
    assert content.multipart_type == MULTIPART_MIXED == ("multipart", "mixed")


def test_pidf_part_is_data_for_a_sip_multipart_part() -> None:
    """The part: type/subtype split, Content-ID matching the cid, disposition, body text."""
    content = build_emergency_invite(
        callback=CALLER, trunk_uri="sip:psap-trunk.example.org", language="en",
        pidf=PIDF, location_token="7c1e")
    part = content.pidf_part
    assert part is not None
    assert (part.content_type, part.content_subtype) == ("application", "pidf+xml")
    assert part.media_type == "application/pidf+xml"
    assert part.headers == (("Content-ID", "<loc-7c1e@voip.example.net>"),
                            ("Content-Disposition", "by-reference;handling=optional"))
    assert part.body == PIDF.decode("utf-8")
    assert content.parts == (part,)


def test_disposition_can_be_left_out() -> None:
    """by_reference_disposition=False leaves only the Content-ID on the part."""
    content = build_emergency_invite(
        callback=CALLER, trunk_uri="sip:psap-trunk.example.org", language="en", pidf=PIDF,
        location_token="7c1e", by_reference_disposition=False)
    assert content.pidf_part is not None
    assert content.pidf_part.headers == (("Content-ID", "<loc-7c1e@voip.example.net>"),)


def test_without_location_there_are_no_geolocation_headers_and_no_parts() -> None:
    """No PIDF-LO: PAI and Priority only, no body part (sorting-center call)."""
    content = build_emergency_invite(
        callback=CALLER, trunk_uri="sip:sorting.example.org", language="es")
    assert [name for name, _ in content.headers] == ["P-Asserted-Identity", "Priority"]
    assert content.pidf_part is None
    assert content.parts == ()
    assert content.content_id is None


def test_random_content_ids_differ_between_calls() -> None:
    """Without a token each INVITE gets its own Content-ID (RFC 2392 uniqueness)."""
    first = build_emergency_invite(callback=CALLER, trunk_uri="sip:t.example.org",
                                   language="en", pidf=PIDF)
    second = build_emergency_invite(callback=CALLER, trunk_uri="sip:t.example.org",
                                    language="en", pidf=PIDF)
    assert first.content_id != second.content_id
    assert first.header("Geolocation") == f"<cid:{first.content_id}>"


def test_test_call_dials_933() -> None:
    """The dialled class's user part goes into the Request-URI."""
    content = build_emergency_invite(callback=CALLER, trunk_uri="sip:t.example.org",
                                     language="en", dialled_user="933")
    assert content.request_uri == "sip:933@t.example.org"


@pytest.mark.parametrize(("trunk", "expected"), [
    ("sip:psap.example.org", "sip:911@psap.example.org"),
    ("sip:psap.example.org:5080", "sip:911@psap.example.org:5080"),
    ("<sip:e911@psap.example.org:5080;transport=tcp>",
     "sip:911@psap.example.org:5080;transport=tcp"),
    ("sips:psap.example.org;transport=tls?X-Foo=bar", "sips:911@psap.example.org;transport=tls"),
    ("SIP:127.0.0.1:40123", "sip:911@127.0.0.1:40123"),
    ("sip:[2001:db8::5]:5060", "sip:911@[2001:db8::5]:5060"),
])
def test_request_uri_keeps_trunk_host_port_and_params(trunk: str, expected: str) -> None:
    """The trunk's user part and headers go; scheme, host, port and parameters stay."""
    assert trunk_request_uri(trunk, "911") == expected


@pytest.mark.parametrize("trunk", [
    "tel:+12025550123", "sip:", "sip:host name", "sip:evil.example\r\nVia: x",
    "sip:host:99999", "sip:host;transport=tcp\r\nX: y", "http://psap.example.org",
])
def test_malformed_trunk_uris_are_refused(trunk: str) -> None:
    """A trunk that is not a clean sip:/sips: URI raises ValueError."""
    with pytest.raises(ValueError):
        trunk_request_uri(trunk, "911")


@pytest.mark.parametrize(("number", "expected"), [
    ("+12025550123", "+12025550123"), ("12025550123", "+12025550123"),
    ("2025550123", "+12025550123"), ("(202) 555-0123", "+12025550123"),
    ("+1 613.555.0199", "+16135550199"),
])
def test_nanp_numbers_become_e164(number: str, expected: str) -> None:
    """Common NANP spellings become +1NPANXXXXXX."""
    assert nanp_e164(number) == expected


@pytest.mark.parametrize("number", [
    "+442071234567", "5550123", "1202555012", "+1 911 555 0123", "+1 202 155 0123",
    "202-555-0123 ext 4", "+12025550123\r\nVia: evil", "",
])
def test_non_nanp_callback_numbers_are_refused(number: str) -> None:
    """Foreign, short, N11-area, bad-exchange or injected numbers raise ValueError."""
    with pytest.raises(ValueError):
        nanp_e164(number)


@pytest.mark.parametrize(("typed", "sent"), [
    ('Bob\r\nVia: SIP/2.0/UDP evil', '"Bob Via SIP 2 0 UDP evil"'),
    ('Eve" <sip:911@evil>;x="', '"Eve sip 911 evil x"'),
    ("Back\\slash \\\" quote", '"Back slash quote"'),
    ("<script>alert(1)</script>", '"script alert 1 script"'),
    ("José O'Brien-Núñez", '"Jose OBrien Nunez"'),
])
def test_display_name_injection_attempts_become_plain_words(typed: str, sent: str) -> None:
    """Whatever is typed, the PAI display name is letters, digits and spaces in quotes."""
    content = build_emergency_invite(
        callback=CallbackIdentity(display_name=typed, number="2025550123",
                                  host="voip.example.net"),
        trunk_uri="sip:t.example.org", language="en")
    assert content.header("P-Asserted-Identity") == (
        f"{sent} <sip:+12025550123@voip.example.net;user=phone>")


def test_a_name_with_no_latin_letters_sends_no_display_name() -> None:
    """An empty sanitised name leaves the PAI as a bare name-addr."""
    content = build_emergency_invite(
        callback=CallbackIdentity(display_name="ΑΘΗΝΑ", number="2025550123",
                                  host="voip.example.net"),
        trunk_uri="sip:t.example.org", language="en")
    assert content.header("P-Asserted-Identity") == (
        "<sip:+12025550123@voip.example.net;user=phone>")


@pytest.mark.parametrize("host", ["voip.example.net\r\nVia: x", "evil host", "a@b", "[::zz]"])
def test_bad_identity_hosts_are_refused(host: str) -> None:
    """The PAI host must be a SIP host: injection and junk raise ValueError."""
    with pytest.raises(ValueError):
        build_emergency_invite(
            callback=CallbackIdentity(display_name="A", number="2025550123", host=host),
            trunk_uri="sip:t.example.org", language="en")


@pytest.mark.parametrize("token", ["bad token", "x@y", "<x>", "a" * 65, ""])
def test_bad_location_tokens_are_refused(token: str) -> None:
    """The Content-ID token is letters, digits and '-' only."""
    with pytest.raises(ValueError, match="location_token"):
        build_emergency_invite(callback=CALLER, trunk_uri="sip:t.example.org", language="en",
                               pidf=PIDF, location_token=token)


def test_language_enum_and_case_are_normalised() -> None:
    """Language.FR and "FR" both become the tag "fr" and its hlang lines."""
    content = build_emergency_invite(callback=CALLER, trunk_uri="sip:t.example.org",
                                     language=Language.FR)
    assert content.language == "fr"
    assert content.hlang_lines() == ["a=hlang-send:fr", "a=hlang-recv:fr"]
    assert build_emergency_invite(callback=CALLER, trunk_uri="sip:t.example.org",
                                  language="FR").language == "fr"


def test_rendered_body_puts_pidf_first_and_sdp_last_with_crlf() -> None:
    """render_multipart_body: PIDF-LO part, SDP part with hlang, close delimiter, CRLF."""
    content = build_emergency_invite(callback=CALLER, trunk_uri="sip:t.example.org",
                                     language="es", pidf=PIDF, location_token="7c1e")
    content_type, body = render_multipart_body(content, SDP, boundary="b-7c1e")
    assert content_type == "multipart/mixed;boundary=b-7c1e"
    assert body.startswith("--b-7c1e\r\nContent-Type: application/pidf+xml\r\n"
                           "Content-ID: <loc-7c1e@voip.example.net>\r\n"
                           "Content-Disposition: by-reference;handling=optional\r\n\r\n<?xml")
    assert body.endswith("a=sendrecv\r\na=hlang-send:es\r\na=hlang-recv:es\r\n\r\n--b-7c1e--\r\n")
    assert "\n" not in body.replace("\r\n", "")
    parts = extract_location_parts(
        f"INVITE sip:911@t SIP/2.0\r\nContent-Type: {content_type}\r\n\r\n{body}")
    assert parts.pidf == PIDF
    assert parts.content_id == "loc-7c1e@voip.example.net"
    assert parts.problems == ()


@pytest.mark.parametrize("boundary", [
    "", "has space at end ", "a" * 71, "semi;colon", "needs=quoting", "a/b", "q?"])
def test_render_refuses_malformed_boundaries(boundary: str) -> None:
    """Boundaries must be 1-70 bchars that need no quoting in Content-Type."""
    content = build_emergency_invite(callback=CALLER, trunk_uri="sip:t.example.org",
                                     language="en", pidf=PIDF)
    with pytest.raises(ValueError, match="boundary"):
        render_multipart_body(content, SDP, boundary=boundary)


def test_built_invite_passes_the_rfc6442_check() -> None:
    """An INVITE assembled from the content passes assert_emergency_invite end to end."""
    content = build_emergency_invite(callback=CALLER, trunk_uri="sip:psap.example.org:5080",
                                     language="en", pidf=PIDF, location_token="7c1e")
    raw = build_raw_invite(content, SDP)
    captured = assert_emergency_invite(raw, InviteExpectation(
        request_uri="sip:911@psap.example.org:5080", callback_number="+12025550123",
        display_name="ACME Widgets Reception", host="voip.example.net", civic=ADDRESS,
        language="en"))
    assert captured.body.content_id == "loc-7c1e@voip.example.net"
    assert captured.body.sdp is not None and captured.body.sdp.startswith("v=0\r\n")


def test_built_invite_without_location_passes_the_check_expecting_none() -> None:
    """A sorting-center INVITE: plain SDP body, no Geolocation, check passes."""
    content = build_emergency_invite(callback=CALLER, trunk_uri="sip:sorting.example.org",
                                     language="fr", dialled_user="933")
    raw = build_raw_invite(content, SDP)
    captured = assert_emergency_invite(raw, InviteExpectation(
        request_user="933", has_location=False, language="fr"))
    assert captured.body.pidf is None
