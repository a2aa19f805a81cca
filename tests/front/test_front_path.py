"""The front path (issue 10): the worker answers an emergency INVITE with a 302 carrying
X-E911-* headers, and Kamailio builds the emergency INVITE (PAI, Priority, Geolocation, the
multipart/mixed body with the PIDF-LO) toward the trunk. SIPp callers and trunks, Kamailio and
real workers on loopback; what reaches each trunk is checked as captured there.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.settings_parsers import HostPort
from router.supervisor import sip_options_ok
from tests.support.front_path import FRONT
from tests.support.mass_event import run_mass_event
from tests.support.paths import SCENARIOS
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.ports import free_port, free_port_block
from tests.support.processes import wait_until
from tests.support.router_run import (
    FrontOnly,
    RouterRun,
    front_stat,
    requires_kamailio,
    running_router,
    start_front,
)
from tests.support.seeded_store import ACCOUNT_CALLBACK, OFFICE, USER_CALLBACK
from tests.support.sipp import SIPP, run_uac, start_uas, uas_trunks
from tests.support.smtp_server import SmtpServer

pytestmark = [pytest.mark.scenario, requires_kamailio]


def _run_hold_uac(port: int, workdir: Path, callers: Path, *, calls: int, hold_ms: int
                  ) -> subprocess.CompletedProcess[str]:
    """sipp-scenarios/load/uac-mass-911-hold.xml: `calls` 911s at once, each held `hold_ms`."""
    args = [SIPP, f"127.0.0.1:{port}", "-sf", str(SCENARIOS / "load" / "uac-mass-911-hold.xml"),
            "-inf", str(callers), "-s", "911", "-i", "127.0.0.1", "-p", str(free_port()),
            "-mp", str(free_port()), "-m", str(calls), "-l", str(calls), "-r", "50",
            "-d", str(hold_ms), "-nostdin", "-timeout", "60s", "-timeout_error",
            "-trace_err", "-error_file", str(workdir / "hold-uac.err")]
    return subprocess.run(args, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=90)


def _logged(router: RouterRun, name: str) -> list[dict[str, object]]:
    """Events named `name`, also those whose JSON line a Kamailio log line ran into (workers
    and Kamailio share the supervisor's stderr, so a line can hold the tail of both)."""
    found = [e for e in router.events if e.get("event") == name]
    for line in list(router.lines):
        start = line.find("{")
        end = line.find("}", start)
        if start >= 0 and end > start and f'"event": "{name}"' in line[start:end + 1]:
            found.append(json.loads(line[start:end + 1]))
    return found


def _ended_paths(router: RouterRun) -> list[str]:
    return [str(e["path"]) for e in _logged(router, "e911.call.ended")]


def _first(router: RouterRun, name: str) -> dict[str, object]:
    wait_until(lambda: bool(_logged(router, name)), 20, name)
    return _logged(router, name)[0]


def _ended(router: RouterRun) -> dict[str, object]:
    return _first(router, "e911.call.ended")


def test_front_path_911_reaches_psap_with_pidf_lo_built_by_kamailio(
    front_store_url: str, tmp_path: Path
) -> None:
    """E911_EMERGENCY_PATH=front: the worker's 302 is turned by Kamailio into an INVITE with
    PAI, Priority, Geolocation <cid:> naming the PIDF-LO part, and a schema-valid PIDF-LO; no
    X-E911-* header reaches the PSAP and the worker records the call as the front's."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting), \
            running_router({**FRONT, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        captured = assert_emergency_invite(invite, InviteExpectation(
            request_user="911", callback_number=USER_CALLBACK, display_name="Ada Lovelace",
            has_location=True, civic=OFFICE, language="en"))
        front = _first(router, "e911.emergency.front")
        assert captured.body.content_id == f"loc-{front['front_ref']}@127.0.0.1"
        assert captured.body.sdp is not None and "m=audio " in captured.body.sdp
        assert "X-E911-" not in invite
        assert sorting.invites() == []
        ended = _ended(router)
        assert (ended["result"], ended["status"], ended["path"], ended["location"]) == (
            "redirected", 302, "front", "binding")
        assert front["located"] is True
        router.wait_line(f"e911.front.redirect_followed front_ref={front['front_ref']} "
                         "route=psap")


def test_front_path_unlocated_911_reaches_sorting_center_with_pai_and_no_location(
    front_store_url: str, tmp_path: Path
) -> None:
    """An unlocated caller on the front path: the sorting center gets the 911 with the
    account's callback number in PAI, Priority, and no Geolocation or PIDF-LO."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting), \
            running_router({**FRONT, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911",
                         caller_csv="callers-unlocated.csv")
        assert result.ok, result.errors
        (invite,) = sorting.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            request_user="911", callback_number=ACCOUNT_CALLBACK, has_location=False,
            language="es"))
        assert re.search(r"^Content-Type: application/sdp\r?$", invite, re.M | re.I)
        assert "X-E911-" not in invite
        assert psap.invites() == []
        ended = _ended(router)
        assert (ended["path"], ended["location"]) == ("front", "")
        router.wait_line("e911.front.redirect_followed")


def test_front_path_933_reaches_the_test_trunk(front_store_url: str, tmp_path: Path) -> None:
    """933 on the front path goes to E911_TRUNK_TEST as sip:933@..., with the PIDF-LO."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, test), \
            running_router({**FRONT, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri, "E911_TRUNK_TEST": test.uri},
                           tmp_path) as router:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="933")
        assert result.ok, result.errors
        (invite,) = test.wait_invites(1)
        assert invite.startswith(f"INVITE sip:933@127.0.0.1:{test.port} SIP/2.0")
        assert_emergency_invite(invite, InviteExpectation(
            request_user="933", callback_number=USER_CALLBACK, has_location=True, civic=OFFICE))
        assert psap.invites() == []
        assert _ended(router)["path"] == "front"


def test_front_path_first_psap_503_fails_over_to_the_next_psap_trunk(
    front_store_url: str, tmp_path: Path
) -> None:
    """The first PSAP trunk answers 503: Kamailio sends the same built INVITE (PIDF-LO and
    all) to the next trunk of X-E911-Fallback; the sorting center gets nothing."""
    with uas_trunks(tmp_path, "uas-trunk-503", "uas-psap-answer", "uas-psap-answer") as (
            busy, psap2, sorting), \
            running_router({**FRONT, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": f"{busy.uri},{psap2.uri}",
                            "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        (first,) = busy.wait_invites(1)
        (second,) = psap2.wait_invites(1)
        for invite in (first, second):
            assert_emergency_invite(invite, InviteExpectation(
                callback_number=USER_CALLBACK, has_location=True, civic=OFFICE))
            assert "X-E911-" not in invite
        assert second.startswith(f"INVITE sip:911@127.0.0.1:{psap2.port} SIP/2.0")
        assert sorting.invites() == []
        router.wait_line("e911.front.fallback status=503")


def test_caller_sent_private_headers_are_stripped_and_change_nothing(
    front_store_url: str, tmp_path: Path
) -> None:
    """A caller forging X-E911-Route/-PAI/-PIDF/-Fallback: none reaches the worker's decision
    or the PSAP; the PSAP gets the caller's real callback number and address."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting), \
            running_router({**FRONT, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
        result = run_uac("uac-911-private-headers-expect-200", router.sip_port, tmp_path,
                         service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            callback_number=USER_CALLBACK, display_name="Ada Lovelace", has_location=True,
            civic=OFFICE))
        assert "X-E911-" not in invite
        assert "Mallory" not in invite and "evil.example" not in invite
        assert "0123456789abcdef" not in invite
        assert sorting.invites() == []
        assert _ended(router)["path"] == "front"


def test_auto_path_third_concurrent_911_goes_via_the_front_with_its_pidf_lo(
    front_store_url: str, tmp_path: Path
) -> None:
    """One worker (4 PJSUA slots), E911_EMERGENCY_PATH=auto: of 3 concurrent 911 calls the first
    is bridged (2 slots) and, with one slot kept to answer the next INVITE at all, the other two
    are handed to the front; all three reach the PSAP with a valid PIDF-LO."""
    psap = start_uas("uas-psap-answer", tmp_path, calls=3)
    try:
        with running_router({"E911_EMERGENCY_PATH": "auto", "E911_KAMAILIO_CHILDREN": "1",
                             "E911_DATABASE_URL": front_store_url,
                             "E911_TRUNK_PSAP": psap.uri}, tmp_path, workers=1) as router:
            callers = tmp_path / "callers.csv"
            callers.write_text("SEQUENTIAL\n1001;127.0.0.1\n")
            result = _run_hold_uac(router.sip_port, tmp_path, callers, calls=3,
                                   hold_ms=3000)
            assert result.returncode == 0, result.stderr
            invites = psap.wait_invites(3)
            for invite in invites:
                assert_emergency_invite(invite, InviteExpectation(
                    callback_number=USER_CALLBACK, has_location=True, civic=OFFICE))
                assert "X-E911-" not in invite
            wait_until(lambda: len(_ended_paths(router)) >= 3, 30, "3 calls ended")
            assert sorted(_ended_paths(router)) == ["bridge", "front", "front"]
            assert len(_logged(router, "e911.emergency.front")) == 2
    finally:
        psap.stop()


class FakeWorker:
    """A "worker" on UDP that answers OPTIONS 200 and every INVITE with the 302 it is given
    (a malformed front 302): the front's side of issue 10 tested without a real worker."""

    def __init__(self, port: int, redirect_headers: list[str],
                 status: str = "302 Moved Temporarily") -> None:
        self.port = port
        self._headers = redirect_headers
        self._status = status
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", port))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self.invites = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            text = data.decode(errors="replace")
            method = text.split(" ", 1)[0]
            if method == "OPTIONS":
                self._sock.sendto(self._reply(text, "200 OK", []), peer)
            elif method == "INVITE":
                self.invites += 1
                self._sock.sendto(self._reply(text, self._status, self._headers), peer)

    @staticmethod
    def _reply(request: str, status: str, extra: list[str]) -> bytes:
        head = request.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
        keep = [h for h in head if h.split(":", 1)[0].strip().lower()
                in ("via", "from", "call-id", "cseq")]
        to = next(h for h in head if h.split(":", 1)[0].strip().lower() == "to")
        lines = [f"SIP/2.0 {status}", *keep, f"{to};tag=fake{os.getpid()}", *extra,
                 "Content-Length: 0"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


@contextlib.contextmanager
def _front_with(worker_headers: list[str], env: dict[str, str], tmp_path: Path,
                status: str = "302 Moved Temporarily"
                ) -> Iterator[tuple[FrontOnly, FakeWorker]]:
    """Kamailio rendered by the router, its one worker a FakeWorker; yields once the front
    answers OPTIONS."""
    sip_port = free_port()
    worker_port = free_port_block(1)
    fake = FakeWorker(worker_port, worker_headers, status)
    run = start_front(env, tmp_path, sip_port=sip_port, worker_port=worker_port, workers=1)
    try:
        wait_until(lambda: sip_options_ok(HostPort("127.0.0.1", sip_port)), 20,
                   "Kamailio answering OPTIONS")
        yield run, fake
    finally:
        run.stop()
        fake.stop()




_GOOD_PIDF = base64.b64encode(b'<?xml version="1.0"?><presence/>').decode()


@pytest.mark.parametrize("headers", [
    pytest.param(["X-E911-Route: psap", "X-E911-Call-Ref: 0123456789abcdef",
                  "X-E911-PIDF: PD94bWwg!!!notbase64$$$"], id="bad-base64"),
    pytest.param(["X-E911-Route: psap", "X-E911-Call-Ref: 0123456789abcdef",
                  "X-E911-PIDF: PD94bWwgdmVyc2lvbj0iMS4wIj8+"], id="base64-not-a-pidf"),
    pytest.param(["X-E911-Route: psap", f"X-E911-PIDF: {_GOOD_PIDF}"], id="no-call-ref"),
    pytest.param(["X-E911-Route: psap", "X-E911-Call-Ref: 0123456789abcdef",
                  'X-E911-PAI: "x" <sip:+14065551001@h;user=phone>;evil=1'], id="bad-pai"),
    pytest.param(["X-E911-Route: psap", "X-E911-Call-Ref: 0123456789abcdef",
                  f"X-E911-SDP: {base64.b64encode(b'not an SDP').decode()}"], id="sdp-not-sdp"),
])
def test_malformed_front_302_routes_to_sorting_center_without_location_and_is_counted(
    headers: list[str], tmp_path: Path
) -> None:
    """A worker's front 302 that fails a check: the 911 still goes, from Kamailio, to the
    sorting center with Priority and without any location or X-E911-* header; the PSAP in the
    Contact gets nothing; the fault is logged and counted (e911_front:redirect_malformed)."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting):
        contact = f"Contact: <sip:911@127.0.0.1:{psap.port}>"
        with _front_with([contact, *headers], {"E911_TRUNK_PSAP": psap.uri,
                                               "E911_TRUNK_SORTING_CENTER": sorting.uri},
                         tmp_path) as (front, fake):
            result = run_uac("uac-911-expect-200", front.sip_port, tmp_path, service="911")
            assert result.ok, result.errors
            (invite,) = sorting.wait_invites(1)
            assert invite.startswith(f"INVITE sip:911@127.0.0.1:{sorting.port} SIP/2.0")
            assert re.search(r"^Priority: emergency\r?$", invite, re.M)
            for absent in ("X-E911-", "Geolocation", "pidf", "P-Asserted-Identity"):
                assert absent not in invite
            assert psap.invites() == []
            assert fake.invites == 1
            assert front.count_lines("e911.front.redirect_malformed class=1") == 1
            assert front_stat(tmp_path / 'kamailio' / 'kamailio.ctl', "redirect_malformed") == 1
            assert front_stat(tmp_path / 'kamailio' / 'kamailio.ctl', "redirect_built") == 0


def test_small_mass_event_every_call_reaches_psap_with_its_own_pidf_lo(tmp_path: Path) -> None:
    """The mass-event bench in small (scripts/bench_mass_event.py): 20 distinct callers behind
    a PBX dial 911 within 4 s and hold 3 s; all 20 reach the PSAP, each with a valid PIDF-LO
    naming its own address, none reaches the sorting center, and none fails."""
    result = run_mass_event(tmp_path, count=20, window_seconds=4, hold_seconds=3,
                            kamailio_children=1)
    assert (result.sipp_exit, result.successful, result.failed) == (0, 20, 0), result.problems
    assert (result.psap_invites, result.valid_pidf) == (20, 20), result.problems
    assert result.sorting_center_invites == 0
    assert result.via_front + result.via_bridge == 20
    assert result.malformed == 0
    assert len(result.setup_ms) == 20


def test_front_path_911_emails_the_emergency_contact_like_the_bridge(
    front_store_url: str, tmp_path: Path
) -> None:
    """Kari's Law notice on the front path: the worker records it when it decides (before the
    302), and `run`'s sender e-mails the contact the caller, callback and address."""
    smtp = SmtpServer().start()
    try:
        with uas_trunks(tmp_path, "uas-psap-answer") as (psap,), \
                running_router({**FRONT, "E911_DATABASE_URL": front_store_url,
                                "E911_TRUNK_PSAP": psap.uri, "E911_SMTP_URL": smtp.url},
                               tmp_path) as router:
            result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
            assert result.ok, result.errors
            psap.wait_invites(1)
            (received,) = smtp.handler.wait_for(1, timeout=20)
            assert _ended(router)["path"] == "front"
    finally:
        smtp.stop()
    assert received.rcpt_tos == ("ops@example.com",)
    assert received.message["Subject"] == "911 call placed by Ada Lovelace"
    text = received.text()
    assert f"Callback number: {USER_CALLBACK}" in text
    assert "105 E LARAMIE ST" in text


def test_private_headers_in_a_worker_reply_never_reach_the_caller(tmp_path: Path) -> None:
    """A worker reply relayed to the caller (a 403 for a normal call) loses every X-E911-*
    header in the front (onreply_route), whatever the worker put in it."""
    leaked = ["X-E911-Route: psap", "X-E911-Call-Ref: 0123456789abcdef",
              'X-E911-PAI: "Ada" <sip:+14065551001@127.0.0.1;user=phone>',
              f"X-E911-PIDF: {_GOOD_PIDF}"]
    with _front_with(leaked, {}, tmp_path, status="403 Forbidden") as (front, fake):
        result = run_uac("uac-expect-403", front.sip_port, tmp_path, service="4065550123")
        assert result.ok, result.errors
        assert fake.invites == 1
        received = [block for block in result.messages.split("-" * 47)
                    if "message received" in block and "SIP/2.0 403" in block]
        assert len(received) == 1
        assert "X-E911-" not in received[0]
