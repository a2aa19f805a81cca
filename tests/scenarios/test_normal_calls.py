"""Normal calls end to end: redirect when located, announcement + 403 when not, refusals."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from tests.scenarios.rtp import RtpSink
from tests.support.processes import wait_until
from tests.support.sipp import UacResult, run_uac, uas_trunks
from tests.support.worker import WorkerFactory

pytestmark = [pytest.mark.scenario]


def test_normal_call_from_located_caller_is_redirected_to_outbound_route(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """A located caller's normal call gets 302 with exactly one Contact: outbound + number."""
    worker = worker_factory(E911_TRUNK_OUTBOUND="sip:carrier.example.net:5060;transport=udp")
    result = run_uac("uac-normal-located-expect-302", worker.port, tmp_path,
                     service="94065550123")
    assert result.ok, result.errors
    contacts = re.findall(r"^Contact:.*$", _response(result, "302"), re.M)
    assert contacts == ["Contact: <sip:+14065550123@carrier.example.net:5060;transport=udp>"]
    ended = worker.wait_event("e911.call.ended")
    assert (ended["result"], ended["status"]) == ("redirected", 302)


def test_normal_call_from_unlocated_caller_hears_announcement_then_403(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """No address: 183 with SDP, real audio on the caller's RTP port, then 403 + Reason."""
    sink = RtpSink.open()
    try:
        worker = worker_factory()
        result = run_uac("uac-normal-unlocated-expect-183-403", worker.port, tmp_path,
                         service="4065550123", caller_csv="callers-unlocated.csv",
                         variables={"rtp_port": str(sink.port)})
        assert result.ok, result.errors
        assert 'Reason: SIP;cause=403;text="Emergency address not registered"' in \
            _response(result, "403")
        # The Spanish prompt (user 2002 prefers es) is 11.5 s: 50 packets a second.
        assert sink.packets > 400
        assert sink.audible_fraction() > 0.3
    finally:
        sink.close()
    playing = worker.wait_event("e911.announce.playing")
    assert playing["language"] == "es"
    ended = worker.wait_event("e911.call.ended")
    assert (ended["result"], ended["status"]) == ("announced", 403)


def test_announce_mode_answer_plays_then_hangs_up(
    worker_factory: WorkerFactory, tmp_path: Path, store_url: str
) -> None:
    """E911_ANNOUNCE_MODE=answer: 200 OK, the announcement, then a BYE from the router."""
    sink = RtpSink.open()
    try:
        worker = worker_factory(E911_ANNOUNCE_MODE="answer")
        result = run_uac("uac-normal-unlocated-answer-expect-200-bye", worker.port, tmp_path,
                         service="4065550123", caller_csv="callers-unknown.csv",
                         variables={"rtp_port": str(sink.port)})
        assert result.ok, result.errors
        assert sink.packets > 300
        assert sink.audible_fraction() > 0.3
    finally:
        sink.close()
    playing = worker.wait_event("e911.announce.playing")
    assert playing["language"] == "en"
    ended = worker.wait_event("e911.call.ended")
    assert (ended["result"], ended["status"]) == ("announced", 200)


def test_undialable_target_is_refused_with_404(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """A dial string that is no number is refused: 404."""
    worker = worker_factory()
    result = run_uac("uac-expect-404", worker.port, tmp_path, service="abc")
    assert result.ok, result.errors


def test_untrusted_peer_is_refused_with_403(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """An INVITE from outside E911_TRUSTED_PEERS (127.0.0.5 here) is refused with 403."""
    worker = worker_factory(E911_TRUSTED_PEERS="127.0.0.1/32")
    result = run_uac("uac-expect-403", worker.port, tmp_path, service="911",
                     source_ip="127.0.0.5")
    assert result.ok, result.errors
    worker.wait_event("e911.ingress.untrusted", where=lambda e: e["source"] == "127.0.0.5")


def test_full_worker_sheds_normal_calls_with_503_but_bridges_911(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """An announcement holds the non-emergency share of the slots: the next normal call gets
    503 + Retry-After, and a 911 still gets its bridge to the PSAP."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        holders: list[UacResult] = []

        def hold() -> None:
            holders.append(run_uac("uac-normal-unlocated-expect-183-403", worker.port,
                                   tmp_path, service="4065550123",
                                   caller_csv="callers-unknown.csv",
                                   variables={"rtp_port": "9"}))

        threads = [threading.Thread(target=hold)]
        for thread in threads:
            thread.start()
        wait_until(lambda: worker.count("e911.announce.playing") >= 1, 10,
                   "an announcement playing")
        shed = run_uac("uac-expect-503", worker.port, tmp_path, service="4065550199",
                       caller_csv="callers-unknown.csv")
        assert shed.ok, shed.errors
        assert re.search(r"^Retry-After: \d+", _response(shed, "503"), re.M)
        emergency = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert emergency.ok, emergency.errors
        assert len(psap.wait_invites(1)) == 1
        for thread in threads:
            thread.join(30)
        assert [h.ok for h in holders] == [True]


def _response(result: UacResult, code: str) -> str:
    """The first received response with status `code` in a SIPp message trace."""
    for block in result.messages.split("-----------------------------------------------"):
        if f"SIP/2.0 {code} " in block and "message received" in block:
            return block[block.index(f"SIP/2.0 {code} "):]
    raise AssertionError(f"no {code} received:\n{result.messages[-2000:]}")



def test_normal_call_bridge_mode_goes_to_outbound_trunk(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """E911_NORMAL_CALL_MODE=bridge: a located caller's call is bridged to the outbound trunk
    with the normalised number in the Request-URI, no emergency headers."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (carrier,):
        worker = worker_factory(E911_NORMAL_CALL_MODE="bridge", E911_TRUNK_OUTBOUND=carrier.uri)
        result = run_uac("uac-call-expect-200", worker.port, tmp_path, service="94065550123")
        assert result.ok, result.errors
        (invite,) = carrier.wait_invites(1)
        assert invite.startswith(f"INVITE sip:+14065550123@127.0.0.1:{carrier.port} SIP/2.0")
        assert "Priority: emergency" not in invite
        assert "Geolocation" not in invite
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["trunk"]) == ("bridged", "outbound")
