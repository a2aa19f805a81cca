"""Announcements played by the front (issue 16): Kamailio + rtpengine, the worker only decides.

`python -m router run` with E911_ANNOUNCE_PATH=front (supervisor, rtpengine, Kamailio, two
workers); SIPp callers whose SDP points at an RTP receiver here (`RtpSink`), which counts what
rtpengine sends. A prompt of S seconds is S x 50 packets of 20 ms.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from router.commands.status import fetch_announcements
from router.kamailio.rtpengine import ng_session_count
from router.settings_parsers import HostPort
from tests.support.announce import announce_env, envelope_match, prompt_seconds
from tests.support.baresip import Baresip, audio_stats
from tests.support.paths import PROMPTS, REPO
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.processes import wait_until
from tests.support.router_run import RouterRun, requires_kamailio, running_router
from tests.support.seeded_store import ACCOUNT_CALLBACK, OFFICE, USER_CALLBACK
from tests.support.sipp import UacResult, Uas, run_uac, uas_trunks

pytestmark = [pytest.mark.scenario, requires_kamailio]

UNLOCATED_LANGUAGE = "es"
"""The unlocated caller 2002's language (tests/support/seeded_store.py)."""
REASON = 'Reason: SIP;cause=403;text="Emergency address not registered"'
CODECS = {"PCMU": (0, "PCMU/8000", 8), "PCMA": (8, "PCMA/8000", 0), "G722": (9, "G722/8000", 0)}
"""codec -> (payload type offered first, its rtpmap, the static payload type offered second):
the workers' PJSUA answers an offer it has no codec for with 488 before our code runs, so the
G.722 caller also offers PCMU (rtpengine sends the first codec of the offer)."""


@dataclass
class Stream:
    packets: int = 0
    payload_types: set[int] = field(default_factory=set)
    first: float = 0.0
    last: float = 0.0


class RtpSink:
    """RTP receiver on 127.0.0.1: counts packets per (source, SSRC) stream (RFC 3550 s5.1)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.streams: dict[tuple[object, int], Stream] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) < 12 or data[0] >> 6 != 2:
                continue
            now = time.monotonic()
            ssrc = int.from_bytes(data[8:12], "big")
            with self._lock:
                stream = self.streams.setdefault((source, ssrc), Stream(first=now))
                stream.packets += 1
                stream.payload_types.add(data[1] & 0x7F)
                stream.last = now

    def snapshot(self) -> list[Stream]:
        with self._lock:
            return [Stream(s.packets, set(s.payload_types), s.first, s.last)
                    for s in self.streams.values()]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@contextmanager
def rtp_sink() -> Iterator[RtpSink]:
    sink = RtpSink()
    try:
        yield sink
    finally:
        sink.close()


def ng_address(router: RouterRun) -> HostPort:
    host, port = router.env["E911_RTPENGINE_NG"].rsplit(":", 1)
    return HostPort(host, int(port))


def _message_times(result: UacResult) -> dict[str, datetime]:
    """When the caller received each status (SIPp's -trace_msg block timestamps)."""
    times: dict[str, datetime] = {}
    for block in result.messages.split("-" * 47):
        received = re.match(r"\s*(\d{4}-\d\d-\d\d [\d:.]+)\s*\n.*message received", block)
        status = re.search(r"^SIP/2\.0 (\d{3}) ", block, re.M)
        if received and status:
            times.setdefault(status.group(1), datetime.strptime(
                received.group(1), "%Y-%m-%d %H:%M:%S.%f"))
    return times


def call(router: RouterRun, tmp_path: Path, sink: RtpSink, *, codec: str = "PCMU",
         scenario: str = "uac-announce-expect-183-403", calls: int = 1,
         rate: float = 10, timeout: float = 60) -> UacResult:
    pt, name, alt = CODECS[codec]
    return run_uac(scenario, router.sip_port, tmp_path, service="4065550123",
                   caller_csv="callers-unlocated.csv", calls=calls, rate=rate,
                   timeout=timeout,
                   variables={"rtp_port": str(sink.port), "pt": str(pt), "codec": name,
                              "alt": str(alt)})


@pytest.mark.parametrize("codec", ["PCMU", "PCMA", "G722"])
def test_front_plays_the_whole_prompt_then_403_with_reason(
    codec: str, front_store_url: str, tmp_path: Path
) -> None:
    """183 with SDP, the whole prompt in the caller's codec (seconds x 50 RTP packets), then 403
    + Reason at the prompt's end; the worker only decided (302) and rtpengine holds no session."""
    seconds = prompt_seconds(UNLOCATED_LANGUAGE)
    with rtp_sink() as sink, running_router(announce_env(front_store_url), tmp_path) as router:
        result = call(router, tmp_path, sink, codec=codec)
        assert result.ok, result.errors
        assert REASON in result.messages
        times = _message_times(result)
        assert list(times)[-2:] == ["183", "403"]
        prompt_to_403 = (times["403"] - times["183"]).total_seconds()
        assert seconds <= prompt_to_403 <= seconds + 1.0, prompt_to_403
        (stream,) = sink.snapshot()
        assert abs(stream.packets - round(seconds * 50)) <= 2, (stream.packets, seconds)
        assert stream.payload_types == {CODECS[codec][0]}
        decided = router.wait_event("e911.announce.front")
        assert decided["language"] == UNLOCATED_LANGUAGE
        ended = router.wait_event("e911.call.ended")
        assert (ended["result"], ended["status"]) == ("announced", 302)
        wait_until(lambda: ng_session_count(ng_address(router)) == 0, 5,
                   "rtpengine holding no session")


def announcements(router: RouterRun) -> dict[str, int]:
    """The front's announcement counters as the host's /metrics serves them."""
    return fetch_announcements(f"http://{router.env['E911_METRICS_LISTEN']}")


def started_streams(sink: RtpSink, count: int) -> None:
    wait_until(lambda: sum(1 for s in sink.snapshot() if s.packets >= 25) >= count, 20,
               f"{count} announcements playing (RTP arriving)")


def test_cancel_during_the_prompt_gets_487_and_deletes_the_session(
    front_store_url: str, tmp_path: Path
) -> None:
    """The caller hangs up 3 s into the prompt: 487 for its INVITE, the RTP stops, rtpengine
    holds no session and the announcement counts as cancelled, not completed."""
    with rtp_sink() as sink, running_router(announce_env(front_store_url), tmp_path) as router:
        result = run_uac("uac-announce-cancel-expect-487", router.sip_port, tmp_path,
                         service="4065550123", caller_csv="callers-unlocated.csv",
                         variables={"rtp_port": str(sink.port)})
        assert result.ok, result.errors
        assert "403" not in _message_times(result)
        wait_until(lambda: ng_session_count(ng_address(router)) == 0, 2,
                   "rtpengine deleting the cancelled announcement")
        (stream,) = sink.snapshot()
        assert 100 <= stream.packets <= 200, stream.packets  # ~3 s of a ~11.5 s prompt
        counts = announcements(router)
        assert (counts["started"], counts["cancelled"], counts["completed"],
                counts["playing"]) == (1, 1, 0, 0)


def test_rtpengine_killed_mid_prompt_callers_still_end_with_403(
    front_store_url: str, tmp_path: Path
) -> None:
    """rtpengine is SIGKILLed while two callers hear the prompt: both still get 403 + Reason at
    the prompt's end; the supervisor restarts rtpengine; 911s meanwhile are untouched."""
    seconds = prompt_seconds(UNLOCATED_LANGUAGE)
    with rtp_sink() as sink, uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (
            psap, sorting), running_router(announce_env(
                front_store_url, E911_TRUNK_PSAP=psap.uri,
                E911_TRUNK_SORTING_CENTER=sorting.uri), tmp_path) as router, \
            ThreadPoolExecutor(1) as pool:
        callers = pool.submit(call, router, tmp_path, sink, calls=2, rate=10)
        started_streams(sink, 2)
        mark = router.mark()
        os.kill(router.pid_of("rtpengine"), signal.SIGKILL)
        assert_911s_untouched(router, tmp_path, psap, sorting)
        result = callers.result(timeout=60)
        assert result.ok, result.errors
        assert result.messages.count(REASON) == 2
        times = _message_times(result)
        assert (times["403"] - times["183"]).total_seconds() >= seconds - 1.0
        router.wait_event("e911.supervisor.restarted", where=lambda e: e.get("child") ==
                          "rtpengine", after=mark)


def test_rtpengine_not_answering_gives_new_callers_an_immediate_403(
    front_store_url: str, tmp_path: Path
) -> None:
    """rtpengine stopped (alive but silent, SIGSTOP): a blocked caller gets 403 + Reason within
    about the ng timeout (500 ms), never a 183 or a 503; counted as a fallback. Once it answers
    again the next caller hears the prompt."""
    with rtp_sink() as sink, running_router(announce_env(front_store_url), tmp_path) as router:
        rtpengine = router.pid_of("rtpengine")
        os.kill(rtpengine, signal.SIGSTOP)
        try:
            began = time.monotonic()
            result = run_uac("uac-announce-expect-403-now", router.sip_port, tmp_path,
                             service="4065550123", caller_csv="callers-unlocated.csv",
                             variables={"rtp_port": str(sink.port)}, calls=2, rate=10)
            assert result.ok, result.errors
            assert time.monotonic() - began < 5.0
            assert result.messages.count(REASON) == 2
            assert "SIP/2.0 503" not in result.messages
        finally:
            os.kill(rtpengine, signal.SIGCONT)
        counts = announcements(router)
        assert (counts["fallback"], counts["started"]) == (2, 0)
        assert sink.snapshot() == []


def test_announcements_beyond_the_cap_get_an_immediate_403(
    front_store_url: str, tmp_path: Path
) -> None:
    """E911_ANNOUNCE_MAX=1: while one caller hears the prompt, the next gets 403 + Reason at
    once (counted as capped, shown by `e911-router status`); 911s meanwhile are untouched;
    once the first ends, a third hears it."""
    with rtp_sink() as sink, uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (
            psap, sorting), running_router(announce_env(
                front_store_url, E911_ANNOUNCE_MAX="1", E911_TRUNK_PSAP=psap.uri,
                E911_TRUNK_SORTING_CENTER=sorting.uri), tmp_path) as router, \
            ThreadPoolExecutor(1) as pool:
        first = pool.submit(call, router, tmp_path, sink)
        started_streams(sink, 1)
        began = time.monotonic()
        refused = run_uac("uac-announce-expect-403-now", router.sip_port, tmp_path,
                          service="4065550123", caller_csv="callers-unlocated.csv",
                          variables={"rtp_port": str(sink.port)})
        assert refused.ok, refused.errors
        assert time.monotonic() - began < 3.0
        assert_911s_untouched(router, tmp_path, psap, sorting)
        assert first.result(timeout=60).ok
        counts = announcements(router)
        assert (counts["started"], counts["completed"], counts["capped"],
                counts["playing"]) == (1, 1, 1, 0)
        screen = subprocess.run(
            [sys.executable, "-m", "router", "status"], env={**os.environ, **router.env},
            capture_output=True, text=True, timeout=30, cwd=REPO).stdout
        assert "ANNOUNCEMENTS (front" in screen
        assert "capped 1" in screen
        again = call(router, tmp_path, sink)
        assert again.ok, again.errors


def assert_911s_untouched(router: RouterRun, tmp_path: Path, psap: Uas, sorting: Uas) -> None:
    """911s placed while announcements play (or fail), untouched by the announcer: the
    unlocated caller 2002's reaches the sorting center with its callback and language (no
    location to send), and the located 1001's, from the same address, reaches the PSAP with
    its schema-valid PIDF-LO."""
    unlocated = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911",
                        caller_csv="callers-unlocated.csv")
    assert unlocated.ok, unlocated.errors
    (invite,) = sorting.wait_invites(1)
    assert_emergency_invite(invite, InviteExpectation(
        request_user="911", callback_number=ACCOUNT_CALLBACK, display_name="Grace Hopper",
        has_location=False, language=UNLOCATED_LANGUAGE))
    located = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
    assert located.ok, located.errors
    (invite,) = psap.wait_invites(1)
    assert_emergency_invite(invite, InviteExpectation(
        request_user="911", callback_number=USER_CALLBACK, display_name="Ada Lovelace",
        has_location=True, civic=OFFICE, language="en"))
    for invite in psap.invites() + sorting.invites():
        assert "X-E911-" not in invite


def test_baresip_records_the_prompt_the_front_plays(front_store_url: str, tmp_path: Path) -> None:
    """A real softphone (baresip, user 2002, no address) dials a number through the front: it
    hears the Spanish prompt as early media (its recording follows the prompt's loudness, not
    the English one's) and the call closes with 403."""
    spanish = PROMPTS / "es" / "address-not-registered.wav"
    english = PROMPTS / "en" / "address-not-registered.wav"
    with running_router(announce_env(front_store_url), tmp_path) as router:
        phone = Baresip.start(tmp_path / "baresip", "2002")
        try:
            phone.command("dial", f"sip:4065550123@127.0.0.1:{router.sip_port}")
            closed = phone.wait_event("CALL_CLOSED", timeout=40)
            assert "403" in str(closed.get("param")), closed
        finally:
            phone.stop()
        router.wait_event("e911.announce.front")
    (recording,) = phone.recordings()
    seconds, _ = audio_stats(recording)
    assert seconds >= prompt_seconds("es") - 0.5
    assert envelope_match(recording, spanish) > 0.9
    assert envelope_match(recording, english) < 0.6
