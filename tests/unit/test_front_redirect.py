"""The worker's emergency 302 for the front path (router.call.front_redirect): pure, no pjsua2."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from router.call.decide import CallRouter, Routed
from router.call.front_redirect import front_redirect
from router.call.inbound import parse_invite
from router.call.plan import Purpose, RoutingPolicy
from router.location.civic import CivicAddress
from router.location.model import (
    Callback,
    CallbackPreference,
    CallerContext,
    Located,
    LocationSource,
    Unlocated,
    UnlocatedReason,
)
from router.pidf import from_pidf
from router.settings import load_settings
from tests.pidf_check import validate_pidf

OFFICE = CivicAddress(
    country="US", state="MT", city="WHITE SULPHUR SPRINGS", street_name="LARAMIE",
    house_number="105", prefix_directional="E", street_suffix="ST", postal_code="59645",
    county="MEAGHER", unit="STE 4",
)
POLICY = RoutingPolicy(
    trunk_psap=("sip:10.0.0.1:5060", "sip:10.0.0.2:5060;transport=tcp"),
    trunk_sorting_center=("sip:10.0.0.9:5060",),
    trunk_test=("sip:10.0.0.3:5060", "sip:10.0.0.4:5060"),
    trunk_outbound="sip:10.0.0.8:5060",
)


@dataclass
class _View:
    located: bool
    callback: bool = True
    """False: neither the account nor the user has a callback number configured."""

    def locate(self, account_id: str, sip_user: str, device_ip: str) -> Located | Unlocated:
        if not self.located:
            return Unlocated(UnlocatedReason.NO_BINDING)
        return Located("addr-1", OFFICE, "MSAG-1", "101", LocationSource.BINDING, device_ip)

    def caller_context(self, account_id: str, sip_user: str) -> CallerContext:
        return CallerContext(loaded=True, account_known=True, account_enabled=True,
                             account_callback=(Callback("Acme", "+14065550100", "en")
                                               if self.callback else None),
                             user_known=True, user_display_name="Ada Lovelace",
                             user_callback_number="+14065551001" if self.callback else None,
                             callback_preference=CallbackPreference.OWN)


SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
      "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"


def routed_call(dialled: str, *, located: bool, sdp: str = "", callback: bool = True) -> Routed:
    """A routed INVITE from extension 1001 (not a NANP number): with `callback` False no
    callback number is known anywhere."""
    body = (f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
            if sdp else "Content-Length: 0\r\n\r\n")
    invite = (f"INVITE sip:{dialled}@127.0.0.1 SIP/2.0\r\n"
              "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
              "From: <sip:1001@127.0.0.1>;tag=1\r\nTo: <sip:911@127.0.0.1>\r\n"
              "Call-ID: c1@127.0.0.1\r\nCSeq: 1 INVITE\r\n" + body)
    inbound = parse_invite(invite, "127.0.0.1:5070")
    router = CallRouter(load_settings({}).dialplan_config(), _View(located, callback), POLICY)
    routed = router.route(inbound)
    assert isinstance(routed, Routed)
    return routed


def _headers(names_values: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return dict(names_values)


def test_located_911_302_carries_contact_pai_pidf_and_fallback() -> None:
    """Contact is the first PSAP, the PIDF-LO travels base64 and decodes to the caller's
    address, PAI is the callback identity, and the other PSAP trunk is the fallback."""
    redirect = front_redirect(routed_call("911", located=True), host="127.0.0.1",
                              call_ref="0123456789abcdef")
    headers = _headers(redirect.headers)
    assert [n for n, _ in redirect.headers].count("Contact") == 1
    assert headers["Contact"] == "<sip:911@10.0.0.1:5060>"
    assert headers["X-E911-Route"] == "psap"
    assert headers["X-E911-Call-Ref"] == "0123456789abcdef"
    assert headers["X-E911-PAI"] == '"Ada Lovelace" <sip:+14065551001@127.0.0.1;user=phone>'
    assert headers["X-E911-Fallback"] == "sip:911@10.0.0.2:5060;transport=tcp"
    pidf = base64.b64decode(headers["X-E911-PIDF"], validate=True)
    assert pidf.decode() == redirect.pidf_lo
    assert from_pidf(pidf).house_number == "105"
    assert redirect.purpose is Purpose.PSAP


def test_unlocated_911_302_goes_to_sorting_center_without_pidf_or_fallback() -> None:
    """No location: the sorting center, the callback identity, nothing else."""
    redirect = front_redirect(routed_call("911", located=False), host="127.0.0.1")
    headers = _headers(redirect.headers)
    assert headers["Contact"] == "<sip:911@10.0.0.9:5060>"
    assert headers["X-E911-Route"] == "sorting_center"
    assert "X-E911-PIDF" not in headers and "X-E911-Fallback" not in headers
    assert headers["X-E911-PAI"].endswith("<sip:+14065551001@127.0.0.1;user=phone>")
    assert len(headers["X-E911-Call-Ref"]) == 16
    assert redirect.pidf_lo == ""


def test_933_302_goes_to_the_test_trunks() -> None:
    """933: the test trunk list, user 933, its second trunk as the fallback."""
    redirect = front_redirect(routed_call("933", located=True), host="127.0.0.1")
    headers = _headers(redirect.headers)
    assert headers["Contact"] == "<sip:933@10.0.0.3:5060>"
    assert headers["X-E911-Route"] == "test"
    assert headers["X-E911-Fallback"] == "sip:933@10.0.0.4:5060"


def test_every_302_header_value_is_one_safe_line() -> None:
    """No value can break the SIP message: no CR, LF or NUL, ASCII only."""
    redirect = front_redirect(routed_call("911", located=True), host="127.0.0.1")
    for _, value in redirect.headers:
        assert value.isascii() and not any(c in value for c in "\r\n\0")


def test_caller_sdp_travels_with_its_hlang_lines() -> None:
    """X-E911-SDP is the caller's offer with a=hlang-send/recv (RFC 8373), as the bridge
    forwards it; an INVITE without SDP gets no X-E911-SDP."""
    headers = _headers(front_redirect(routed_call("911", located=True, sdp=SDP),
                                      host="127.0.0.1").headers)
    sdp = base64.b64decode(headers["X-E911-SDP"], validate=True).decode()
    assert sdp == SDP + "a=hlang-send:en\r\na=hlang-recv:en\r\n"
    bare = _headers(front_redirect(routed_call("911", located=True), host="127.0.0.1").headers)
    assert "X-E911-SDP" not in bare


def test_located_911_without_callback_302_still_carries_the_pidf() -> None:
    """No callback number known (extension 1001, none configured): the 302 has no X-E911-PAI
    but still hands the front the caller's PIDF-LO, which Kamailio accepts without a PAI."""
    redirect = front_redirect(routed_call("911", located=True, callback=False),
                              host="127.0.0.1")
    headers = _headers(redirect.headers)
    assert headers["Contact"] == "<sip:911@10.0.0.1:5060>"
    assert headers["X-E911-Route"] == "psap"
    assert "X-E911-PAI" not in headers
    pidf = base64.b64decode(headers["X-E911-PIDF"], validate=True)
    assert pidf.decode() == redirect.pidf_lo
    assert validate_pidf(pidf) == []
    assert from_pidf(pidf) == OFFICE
