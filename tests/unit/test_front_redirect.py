"""The worker's emergency 302 for the front path (router.call.front_redirect): pure, no pjsua2."""

from __future__ import annotations

import base64

from router.call.front_redirect import front_redirect
from router.call.plan import Purpose
from router.pidf import from_pidf
from tests.support.pidf_check import validate_pidf
from tests.support.routed_calls import SDP, routed_call
from tests.support.seeded_store import OFFICE


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
