"""Routed calls built in process (no pjsua2): an INVITE from extension 1001 parsed and routed
with a fixed policy over a location view that is located or not, with or without callbacks."""

from __future__ import annotations

from dataclasses import dataclass

from router.call.decide import CallRouter, Routed
from router.call.inbound import parse_invite
from router.call.plan import RoutingPolicy
from router.location.model import (
    Callback,
    CallbackPreference,
    CallerContext,
    Located,
    LocationSource,
    Unlocated,
    UnlocatedReason,
)
from router.settings import load_settings
from tests.support.seeded_store import OFFICE

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
