"""docs/pidf-lo.md: the example INVITE is what the code builds, and it passes the checker."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.call.emergency_invite import CallbackIdentity, build_emergency_invite
from router.location.civic import CivicAddress
from router.pidf import to_pidf
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite, build_raw_invite

DOC = Path(__file__).resolve().parents[2] / "docs" / "pidf-lo.md"
ADDRESS = CivicAddress(
    country="US", state="TX", county="TRAVIS", city="AUSTIN", prefix_directional="N",
    street_name="LAMAR", street_suffix="BLVD", house_number="6500", location_info="LOADING DOCK B",
    floor="2", unit="STE 210", postal_code="78752", postal_community="AUSTIN",
)
SDP = ("v=0\r\no=- 3911 3911 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n"
       "m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
       "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n")


def example_invite() -> str:
    issued = datetime(2025, 5, 1, 17, 4, 11, tzinfo=UTC)
    pidf = to_pidf(ADDRESS, entity="pres:+12025550123@voip.example.net",
                   device_id="urn:uuid:6f1c2f58-8d4b-4b8e-9a36-0b7e1c6e9d11",
                   timestamp=issued, retention_expiry=issued + timedelta(days=1))
    content = build_emergency_invite(
        callback=CallbackIdentity("ACME Widgets Reception", "+12025550123", "voip.example.net"),
        trunk_uri="sip:psap-trunk.example.org:5080", language="en", pidf=pidf,
        location_token="7c1e")
    return build_raw_invite(content, SDP, boundary="e911-7c1e")


def documented_invite() -> str:
    block = re.search(r"```sip\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None, "docs/pidf-lo.md has no ```sip block"
    return block.group(1).removesuffix("\n").replace("\n", "\r\n") + "\r\n"


def test_documented_invite_is_what_the_code_builds() -> None:
    """The example in docs/pidf-lo.md matches today's builder output byte for byte."""
    assert documented_invite() == example_invite()


def test_documented_invite_passes_the_emergency_invite_check() -> None:
    """The documented example is a conforming RFC 6442 emergency INVITE."""
    assert_emergency_invite(documented_invite(), InviteExpectation(
        request_uri="sip:911@psap-trunk.example.org:5080", callback_number="+12025550123",
        display_name="ACME Widgets Reception", civic=ADDRESS, language="en"))
