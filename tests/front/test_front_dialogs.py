"""In-dialog requests through the front (issue 13, finding 1): Kamailio relays in-dialog
requests only for dialogs it Record-Routed (RFC 3261 s16.6 step 4, s16.12); an INVITE that
merely carries a To tag is a new call and gets everything a new call gets.

The forger is a raw UDP socket on 127.0.0.1 (a trusted softphone address); the trunks are
SIPp; the router is `python -m router run` (Kamailio + 2 workers).
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.router_run import requires_kamailio, running_router
from tests.support.seeded_store import OFFICE, USER_CALLBACK
from tests.support.sipp import run_uac, uas_trunks
from tests.support.smtp_server import SmtpServer

ONE_RECEIVER = {"E911_KAMAILIO_CHILDREN": "1"}
"""These callers are strict SIPp scenarios: with several UDP receivers Kamailio may relay the
worker's 180 after its 200 (tm sends outside its reply lock, docs/front-path.md), which SIPp
refuses and an RFC 3261 UA ignores; one receiver keeps the order (as front_path.FRONT does).
Seen once in CI: test_psap_reinvite_and_bye_reach_the_caller_through_the_front."""

pytestmark = [pytest.mark.scenario, requires_kamailio]

FORGED_PAI = "<sip:+15555550199@127.0.0.1;user=phone>"
FORGED_STREET = "FORGED AVENUE"
FORGED_PIDF = (
    '<?xml version="1.0" encoding="UTF-8"?>\r\n'
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
    'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
    'xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" entity="pres:x@example.com">'
    '<tuple id="t"><status><gp:geopriv><gp:location-info><ca:civicAddress>'
    f'<ca:country>US</ca:country><ca:RD>{FORGED_STREET}</ca:RD>'
    '</ca:civicAddress></gp:location-info></gp:geopriv></status></tuple></presence>\r\n')
SOFTPHONE = {"E911_PBX_PEERS": "127.0.0.2/32"}
"""127.0.0.1 is a trusted softphone, not a PBX (RFC 3325: outside the trust domain)."""
SDP = ("v=0\r\no=forger 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


@dataclass
class RawUac:
    """A UDP socket on 127.0.0.1 speaking SIP to the front, one request at a time."""

    front_port: int
    sock: socket.socket

    @property
    def local(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def send(self, text: str) -> None:
        self.sock.sendto(text.encode(), ("127.0.0.1", self.front_port))

    def final(self, method: str, timeout: float = 30.0) -> str:
        """The first final response to `method` (provisional ones skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65535).decode(errors="replace")
            except TimeoutError:
                break
            status = re.match(r"SIP/2\.0 (\d{3}) ", data)
            if status and int(status.group(1)) >= 200 and re.search(
                    rf"^CSeq:\s*\d+ {method}\r?$", data, re.M | re.I):
                return data
        raise AssertionError(f"no final response to {method} within {timeout} s")

    def nothing_within(self, seconds: float) -> None:
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65535)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected answer: {data[:80]!r}")


def _uac(front_port: int) -> RawUac:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return RawUac(front_port, sock)


def _forged_invite(uac: RawUac, request_uri: str, caller: str, *, call_id: str,
                   extra: str = "") -> str:
    """An INVITE with a To tag nobody issued, the sender's own P-Asserted-Identity and its own
    PIDF-LO (RFC 6442 by value): what the probe sent to the PSAP trunk."""
    boundary = "forged-boundary"
    body = (f"--{boundary}\r\nContent-Type: application/sdp\r\n\r\n{SDP}"
            f"--{boundary}\r\nContent-Type: application/pidf+xml\r\n"
            f"Content-ID: <forged@127.0.0.1>\r\n\r\n{FORGED_PIDF}--{boundary}--\r\n")
    return (f"INVITE {request_uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {uac.local};rport;branch=z9hG4bK{os.urandom(6).hex()}\r\n"
            f"From: <sip:{caller}@127.0.0.1>;tag=f{os.urandom(4).hex()}\r\n"
            f"To: <{request_uri}>;tag=forged\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 7 INVITE\r\n"
            f"Contact: <sip:{caller}@{uac.local}>\r\nMax-Forwards: 70\r\n"
            f"P-Asserted-Identity: {FORGED_PAI}\r\n"
            "Geolocation: <cid:forged@127.0.0.1>\r\nGeolocation-Routing: yes\r\n"
            "Priority: emergency\r\n"
            f"{extra}"
            f"Content-Type: multipart/mixed;boundary={boundary}\r\n"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}")


def _in_dialog(uac: RawUac, reply: str, method: str, cseq: int) -> str:
    """ACK/BYE for the dialog `reply` (a 2xx) set up: its tags, and the route set it recorded
    (RFC 3261 s12.1.2: the Record-Route values in order, for the caller)."""
    routes = [v.strip() for line in re.findall(r"^Record-Route:\s*(.+?)\r?$", reply, re.M)
              for v in line.split(",")]
    contact = re.search(r"^(?:Contact|m):\s*<([^>]+)>", reply, re.M | re.I)
    assert contact, reply
    head = {name: found.group(1) for name in ("From", "To", "Call-ID")
            if (found := re.search(rf"^{name}:\s*(.+?)\r?$", reply, re.M | re.I))}
    assert len(head) == 3, reply
    branch = f"z9hG4bK{os.urandom(6).hex()}"
    route = f"Route: {', '.join(routes)}\r\n" if routes else ""
    return (f"{method} {contact.group(1)} SIP/2.0\r\nVia: SIP/2.0/UDP {uac.local};rport;"
            f"branch={branch}\r\n{route}From: {head['From']}\r\nTo: {head['To']}\r\n"
            f"Call-ID: {head['Call-ID']}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n")


def test_forged_in_dialog_911_is_a_new_911_located_from_the_store(
    front_store_url: str, tmp_path: Path
) -> None:
    """An INVITE sip:911@<PSAP trunk> with a forged To tag, its own PAI and its own PIDF-LO is
    handled as a new 911: a worker locates 1001 from the store, the PSAP gets the office
    address and 1001's callback number (nothing the sender wrote), a call record is made, the
    contact is e-mailed, and the caller's BYE (routed by our Record-Route) ends it."""
    smtp = SmtpServer().start()
    try:
        with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting), \
                running_router({**ONE_RECEIVER, "E911_DATABASE_URL": front_store_url,
                                "E911_TRUNK_PSAP": psap.uri, "E911_SMTP_URL": smtp.url,
                                **SOFTPHONE,
                                "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
            uac = _uac(router.sip_port)
            uac.send(_forged_invite(uac, f"sip:911@127.0.0.1:{psap.port}", "1001",
                                    call_id=f"{os.urandom(6).hex()}@forger"))
            answer = uac.final("INVITE")
            assert answer.startswith("SIP/2.0 200 "), answer[:200]
            assert re.search(r"^Record-Route:.*;lr", answer, re.M), answer
            uac.send(_in_dialog(uac, answer, "ACK", 7))
            (invite,) = psap.wait_invites(1)
            assert_emergency_invite(invite, InviteExpectation(
                request_user="911", callback_number=USER_CALLBACK, display_name="Ada Lovelace",
                has_location=True, civic=OFFICE))
            assert "+15555550199" not in invite and FORGED_STREET not in invite
            assert ";tag=forged" not in invite
            assert sorting.invites() == []
            uac.send(_in_dialog(uac, answer, "BYE", 8))
            assert uac.final("BYE").startswith("SIP/2.0 200 ")
            ended = router.wait_event("e911.call.ended")
            assert (ended["result"], ended["trunk"], ended["location"]) == (
                "bridged", "psap", "binding")
            (mail,) = smtp.handler.wait_for(1, timeout=20)
    finally:
        smtp.stop()
    assert mail.message["Subject"] == "911 call placed by Ada Lovelace"
    assert f"Callback number: {USER_CALLBACK}" in mail.text()


def test_forged_in_dialog_call_of_an_unlocated_caller_is_refused_like_a_new_one(
    front_store_url: str, tmp_path: Path
) -> None:
    """2002 has no address: its ordinary call 'in a dialog' it made up, sent straight at the
    outbound trunk's URI, reaches a worker and gets the 403 + Reason any new call of it gets;
    the outbound trunk never sees it."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (outbound,), \
            running_router({**ONE_RECEIVER, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_OUTBOUND": outbound.uri, **SOFTPHONE}, tmp_path
                           ) as router:
        uac = _uac(router.sip_port)
        uac.send(_forged_invite(uac, f"sip:+14065550123@127.0.0.1:{outbound.port}", "2002",
                                call_id=f"{os.urandom(6).hex()}@forger"))
        answer = uac.final("INVITE", timeout=40)
        assert answer.startswith("SIP/2.0 403 "), answer[:200]
        assert 'Reason: SIP;cause=403;text="Emergency address not registered"' in answer
        decided = router.wait_event("e911.route.decided")
        assert decided["located"] is False
        assert outbound.invites() == []


def test_in_dialog_requests_of_dialogs_we_did_not_route_get_481(
    front_store_url: str, tmp_path: Path
) -> None:
    """BYE, re-INVITE-less requests and ACK with a To tag of no dialog the front set up,
    even with a Route header naming the front: 481 (ACK: dropped), nothing relayed."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (psap,), \
            running_router({**ONE_RECEIVER, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri}, tmp_path) as router:
        uac = _uac(router.sip_port)
        target = f"sip:911@127.0.0.1:{psap.port}"
        for method, route in (("BYE", ""), ("INFO", f"<sip:127.0.0.1:{router.sip_port};lr>"),
                              ("ACK", f"<sip:127.0.0.1:{router.sip_port};lr>")):
            text = (f"{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {uac.local};rport;"
                    f"branch=z9hG4bK{os.urandom(6).hex()}\r\n"
                    + (f"Route: {route}\r\n" if route else "")
                    + f"From: <sip:1001@127.0.0.1>;tag=a1\r\nTo: <{target}>;tag=forged\r\n"
                    f"Call-ID: {os.urandom(6).hex()}@forger\r\nCSeq: 2 {method}\r\n"
                    "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
            uac.send(text)
            if method == "ACK":
                uac.nothing_within(1.0)
            else:
                assert uac.final(method, timeout=5).startswith("SIP/2.0 481 ")
        assert psap.invites() == []
        assert router.count("e911.route.decided") == 0


def test_callers_reinvite_and_bye_of_a_real_call_pass_the_front(
    front_store_url: str, tmp_path: Path
) -> None:
    """A located 911 bridged by a worker: the caller's re-INVITE (hold) and BYE go through the
    front (it Record-Routed the INVITE) to the worker, and on to the PSAP, which answers both."""
    with uas_trunks(tmp_path, "uas-psap-answer-reinvite") as (psap,), \
            running_router({**ONE_RECEIVER, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri}, tmp_path) as router:
        result = run_uac("uac-911-hold-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        assert re.search(r"^Record-Route: <sip:127\.0\.0\.1:\d+;lr", result.messages, re.M)
        assert psap.proc.wait(10) == 0  # the re-INVITE, then the BYE
        assert len(psap.invites()) == 2
        ended = router.wait_event("e911.call.ended")
        assert (ended["result"], ended["trunk"]) == ("bridged", "psap")


def test_psap_reinvite_and_bye_reach_the_caller_through_the_front(
    front_store_url: str, tmp_path: Path
) -> None:
    """The other direction: the PSAP re-INVITEs then hangs up; the worker's re-INVITE and BYE
    to the caller follow the route set through the front (upstream in the front's dialog)."""
    with uas_trunks(tmp_path, "uas-psap-reinvite-then-bye") as (psap,), \
            running_router({**ONE_RECEIVER, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri}, tmp_path) as router:
        result = run_uac("uac-911-expect-reinvite-then-bye", router.sip_port, tmp_path,
                         service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0
        router.wait_event("e911.call.ended")
        assert not [line for line in router.lines if "in_dialog_target_mismatch" in line]
