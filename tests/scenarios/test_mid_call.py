"""Mid-call offers (re-INVITE, UPDATE) and the late offer across the bridge: SIPp caller ->
worker -> SIPp PSAP, the SDP checked as each side received it.

The scenarios use fixed media ports (caller 31000, PSAP 41000) so every SDP line can be
asserted exactly.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.pidf_check import extract_location_parts, validate_pidf
from tests.support.sip_messages import SipMessage, parse_sip_message, split_logged
from tests.support.sipp import UacResult, Uas, run_uac, uas_trunks
from tests.support.worker import WorkerFactory

pytestmark = [pytest.mark.scenario]

CALLER_MEDIA = ["c=IN IP4 127.0.0.1", "m=audio 31000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000"]
PSAP_MEDIA = ["c=IN IP4 127.0.0.1", "m=audio 41000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000"]
HLANG_EN = ["a=hlang-send:en", "a=hlang-recv:en"]


def _sdp(message: SipMessage) -> list[str]:
    """The SDP lines of a message whose body is plain SDP."""
    assert message.header("Content-Type") == "application/sdp", message.start_line
    return [line for line in message.body.decode().splitlines() if line]


def _media(message: SipMessage) -> list[str]:
    """The c=, m= and a= lines of its SDP, in order."""
    return [line for line in _sdp(message) if line[:2] in ("c=", "m=", "a=")]


def _origin(message: SipMessage) -> str:
    (line,) = [line for line in _sdp(message) if line.startswith("o=")]
    return line


def _received(result: UacResult, start: str, cseq: str | None = None) -> SipMessage:
    """The first message the SIPp caller received that starts with `start` (and has `cseq`)."""
    for block in result.messages.split("-----------------------------------------------"):
        if "message received" not in block or ":\n" not in block:
            continue
        message = parse_sip_message(block.split(":\n", 1)[1].strip("\r\n"))
        if message.start_line.startswith(start) and cseq in (None, message.header("CSeq")):
            return message
    raise AssertionError(f"caller received no {start} ({cseq}):\n{result.messages[-3000:]}")


def _logged(uas: Uas, start: str) -> list[SipMessage]:
    """Every message the SIPp PSAP logged whose start line begins with `start`, in order."""
    text = uas.log_file.read_bytes().decode("utf-8", errors="replace")
    messages = [parse_sip_message(m) for m in split_logged(text)]
    return [m for m in messages if m.start_line.startswith(start)]


def test_reinvite_from_caller_reaches_psap_and_its_answer_comes_back(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """The caller puts the 911 on hold (re-INVITE, a=sendonly): the PSAP gets a re-INVITE with
    the caller's SDP, the caller gets 200 with the PSAP's answer; the BYE after it ends both."""
    with uas_trunks(tmp_path, "uas-psap-answer-reinvite") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-hold-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0  # it received the BYE after the re-INVITE
        _, reinvite = (parse_sip_message(m) for m in psap.invites())
        # The caller's offer byte for byte, plus the caller's language (RFC 8373).
        assert _sdp(reinvite) == [
            "v=0", "o=1001 53655765 2353687638 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1",
            "t=0 0", "m=audio 31000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=sendonly",
            *HLANG_EN]
        first_ok = _received(result, "SIP/2.0 200", "1 INVITE")
        hold_ok = _received(result, "SIP/2.0 200", "2 INVITE")
        assert _media(hold_ok) == [*PSAP_MEDIA, "a=recvonly"]
        # RFC 3264 s8: the origin of our first answer to the caller, version + 1.
        origin = re.fullmatch(r"(o=\S+ \d+) (\d+) IN IP4 127\.0\.0\.1", _origin(first_ok))
        assert origin is not None
        assert _origin(hold_ok) == f"{origin[1]} {int(origin[2]) + 1} IN IP4 127.0.0.1"
        answered = worker.wait_event("e911.bridge.offer_answered")
        assert (answered["side"], answered["method"], answered["status"]) == (
            "trunk", "INVITE", 200)
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["status"]) == ("bridged", 200)


def test_reinvite_from_psap_reaches_caller_and_its_answer_goes_back(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """The PSAP sends a re-INVITE (a=sendonly): the caller gets it with the PSAP's SDP, the
    PSAP gets 200 with the caller's answer; the PSAP's BYE after it ends the caller's leg."""
    with uas_trunks(tmp_path, "uas-psap-reinvite-then-bye") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-expect-reinvite-then-bye", worker.port, tmp_path,
                         service="911")
        assert result.ok, result.errors  # it received the re-INVITE, then the BYE
        assert psap.proc.wait(10) == 0
        assert _media(_received(result, "INVITE ")) == [*PSAP_MEDIA, "a=sendonly"]
        (psap_ok,) = [m for m in _logged(psap, "SIP/2.0 200") if m.header("CSeq") == "1 INVITE"]
        assert _media(psap_ok) == [*CALLER_MEDIA, "a=recvonly"]
        assert _origin(psap_ok) == "o=1001 53655765 2353687638 IN IP4 127.0.0.1"
        answered = worker.wait_event("e911.bridge.offer_answered")
        assert (answered["side"], answered["method"], answered["status"]) == (
            "caller", "INVITE", 200)
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["status"]) == ("bridged", 200)


def test_update_from_caller_is_answered_and_reaches_psap(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """An UPDATE (a=sendonly) from the caller: PJSUA answers it at once with the PSAP's SDP
    (a=recvonly), and the PSAP gets an UPDATE with the caller's offer."""
    with uas_trunks(tmp_path, "uas-psap-answer-update") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-update-hold-expect-200", worker.port, tmp_path,
                         service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0
        (update,) = _logged(psap, "UPDATE ")
        assert _media(update) == [*CALLER_MEDIA, "a=sendonly", *HLANG_EN]
        assert _media(_received(result, "SIP/2.0 200", "2 UPDATE")) == [
            *PSAP_MEDIA, "a=recvonly"]
        answered = worker.wait_event("e911.bridge.offer_answered")
        assert (answered["method"], answered["status"]) == ("UPDATE", 200)


def test_reinvite_refused_by_psap_is_refused_to_caller(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """The PSAP answers the relayed re-INVITE 488: the caller's re-INVITE gets 488 and the call
    goes on as it was: the PSAP's own re-INVITE without SDP then gets the caller's first SDP
    as our offer (not the refused sendonly one); the caller's BYE ends both."""
    with uas_trunks(tmp_path, "uas-psap-reinvite-488") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-hold-expect-488", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0
        assert _received(result, "SIP/2.0 488", "2 INVITE").body == b""
        (offer_ok,) = [m for m in _logged(psap, "SIP/2.0 200") if m.header("CSeq") == "1 INVITE"]
        assert _media(offer_ok) == [*CALLER_MEDIA, *HLANG_EN]
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["status"]) == ("bridged", 200)


def test_psap_bye_during_held_reinvite_answers_it_487_then_ends_caller(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """The PSAP hangs up instead of answering a relayed re-INVITE: the caller's re-INVITE gets
    487 (RFC 3261 s15.1.2) before the BYE, and the worker keeps running."""
    with uas_trunks(tmp_path, "uas-psap-bye-on-reinvite") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-hold-expect-487-then-bye", worker.port, tmp_path,
                         service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["status"]) == ("bridged", 200)
        assert worker.proc.poll() is None


def test_late_offer_911_takes_psap_offer_to_caller_and_caller_answer_to_psap(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """A 911 INVITE without SDP: the PSAP gets an INVITE without SDP (the PIDF-LO only), its
    offer reaches the caller unchanged in our 200, and the caller's answer (in its ACK)
    reaches the PSAP as the offer of a re-INVITE; the caller's BYE ends both."""
    with uas_trunks(tmp_path, "uas-psap-late-offer") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-late-offer-expect-200", worker.port, tmp_path,
                         service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0
        invite, reinvite = (parse_sip_message(m) for m in psap.invites())
        parts = extract_location_parts(psap.invites()[0])
        assert (parts.sdp, parts.problems) == (None, ())
        assert parts.pidf is not None and validate_pidf(parts.pidf) == []
        assert (invite.header("Content-Type") or "").startswith("multipart/mixed;")
        assert _received(result, "SIP/2.0 180", "1 INVITE").body == b""
        assert _sdp(_received(result, "SIP/2.0 200", "1 INVITE")) == [
            "v=0", "o=psap 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
            "m=audio 41000 RTP/AVP 0 8", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000"]
        # PJSUA acknowledges the PSAP's 200 at once with an answer of its own (measured: it
        # cannot wait for the caller's), so the caller's answer follows in a re-INVITE.
        (ack,) = _logged(psap, "ACK ")
        (ack_media,) = [line for line in _sdp(ack) if line.startswith("m=")]
        assert re.fullmatch(r"m=audio \d+ RTP/AVP 0", ack_media)
        assert ack_media != "m=audio 31000 RTP/AVP 0"
        assert _media(reinvite) == [*CALLER_MEDIA, *HLANG_EN]
        relayed = worker.wait_event("e911.bridge.offer")
        assert (relayed["side"], relayed["method"]) == ("caller", "ACK")
        answered = worker.wait_event("e911.bridge.offer_answered")
        assert (answered["side"], answered["method"], answered["status"]) == (
            "trunk", "INVITE", 200)
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["status"]) == ("bridged", 200)


def test_reinvite_without_sdp_from_caller_is_offered_psaps_latest_sdp(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """A re-INVITE without SDP from the caller: PJSUA answers it (onCallRxReinvite is not called
    without SDP) and our offer in the 200 is the PSAP's SDP, so media keeps flowing; the
    caller's answer in its ACK stays with us (no callback carries that ACK)."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-reinvite-no-sdp-expect-200", worker.port, tmp_path,
                         service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0
        first_ok = _received(result, "SIP/2.0 200", "1 INVITE")
        offer = _received(result, "SIP/2.0 200", "2 INVITE")
        assert _media(offer) == _media(first_ok)
        assert [line for line in _media(offer) if line.startswith("m=")] == [
            f"m=audio {_psap_port(psap)} RTP/AVP 0"]
        assert len(psap.invites()) == 1  # nothing was relayed


def _psap_port(psap: Uas) -> int:
    """The media port the PSAP's SIPp put in its 200 ([media_port], from -mp)."""
    args = psap.proc.args
    assert isinstance(args, list)
    return int(args[args.index("-mp") + 1])


def test_late_offer_psap_moving_its_media_in_reinvite_answer_reaches_caller(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """Late offer, and the PSAP answers the re-INVITE that carries the caller's answer with its
    media on a new port: the caller gets a re-INVITE with that SDP (its answer stays with us)."""
    with uas_trunks(tmp_path, "uas-psap-late-offer-moves-media") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-late-offer-expect-reinvite", worker.port, tmp_path,
                         service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0
        refresh = _received(result, "INVITE ")
        # Our first 200 carried "o=psap 1 1": same origin, version + 1 (RFC 3264 s8).
        assert _sdp(refresh) == [
            "v=0", "o=psap 1 2 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
            "m=audio 41002 RTP/AVP 0", "a=rtpmap:0 PCMU/8000"]
        assert len(psap.invites()) == 2  # the INVITE and our one re-INVITE: no ping-pong
        worker.wait_event("e911.bridge.offer_refresh", where=lambda e: e["side"] == "caller")


def test_update_answer_moving_psap_media_reaches_caller_in_reinvite(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """PJSUA answered the caller's UPDATE with the PSAP's earlier SDP; the PSAP's own answer
    moves its media to a new port: the caller gets a re-INVITE with the PSAP's new SDP."""
    with uas_trunks(tmp_path, "uas-psap-update-moves-media") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-update-hold-expect-reinvite", worker.port, tmp_path,
                         service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0
        assert _media(_received(result, "SIP/2.0 200", "2 UPDATE")) == [
            *PSAP_MEDIA, "a=recvonly"]
        assert _media(_received(result, "INVITE ")) == [
            "c=IN IP4 127.0.0.1", "m=audio 41002 RTP/AVP 0", "a=rtpmap:0 PCMU/8000",
            "a=recvonly"]
        worker.wait_event("e911.bridge.offer_refresh", where=lambda e: e["side"] == "caller")
