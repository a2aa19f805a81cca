"""The reference PBX chain end to end (issue 17): softphones (baresip) registered with digest
credentials to a Kamailio PBX (deploy/pbx/), the PBX in front of the whole router, SIPp trunks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.announce import announce_env, envelope_match, prompt_seconds
from tests.support.baresip import audio_stats
from tests.support.event_stream import Stream, stream
from tests.support.paths import PROMPTS
from tests.support.pbx_chain import (
    FIRST_DEVICE,
    PBX,
    SECOND_DEVICE,
    answered_call,
    calls_closed,
    kamailio_pbx,
    softphone,
)
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.processes import wait_until
from tests.support.router_run import requires_kamailio, running_router
from tests.support.seeded_store import OFFICE, PBX_PHONE_CALLBACK, PBX_PHONE_USER
from tests.support.sipp import uas_trunks

pytestmark = [pytest.mark.scenario, requires_kamailio]

TOKEN = "pbx-chain-" + "0123456789abcdef0123"


def next_network_changed(events: Stream, timeout: float = 30.0) -> dict[str, Any]:
    """The next `network.changed` on the stream (other event types skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = events.next_frame()
        if "event" in frame:
            data: dict[str, Any] = json.loads(frame["data"])
            if data["type"] == "network.changed":
                return data
    raise AssertionError(f"no network.changed on /v1/events within {timeout} s")


def _answers(api: httpx.Client) -> bool:
    try:
        return api.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def test_softphones_through_the_pbx_reach_the_router_and_911_survives_it(
    chain_store_url: str, tmp_path: Path
) -> None:
    """Desk phone 3003 registers (digest) from 127.0.0.11 and dials 911: the PSAP trunk gets
    a schema-valid PIDF-LO with its bound address and callback number. Re-registered from
    127.0.0.12: network.changed at registration, no call; an ordinary call hears the whole
    announcement and ends 403; 933 reaches the test trunk; with the router stopped, 911 goes
    to the carrier's E911 trunk by the PBX's failover route."""
    with uas_trunks(tmp_path, *["uas-psap-answer"] * 5, calls=0) as (
            psap, sorting, outbound, test, carrier), \
            running_router(announce_env(
                chain_store_url, E911_PBX_PEERS=f"{PBX}/32", E911_ADMIN_TOKENS=TOKEN,
                E911_TRUNK_PSAP=psap.uri, E911_TRUNK_SORTING_CENTER=sorting.uri,
                E911_TRUNK_OUTBOUND=outbound.uri, E911_TRUNK_TEST=test.uri),
                tmp_path) as router, \
            httpx.Client(base_url=router.api_url, timeout=20.0,
                         headers={"Authorization": f"Bearer {TOKEN}"}) as admin, \
            kamailio_pbx(tmp_path / "pbx", router.sip_port, carrier.port) as pbx_port:
        wait_until(lambda: _answers(admin), 30, f"the API at {router.api_url}")
        with stream(admin) as events:
            first = softphone(tmp_path / "phone-11", PBX_PHONE_USER, FIRST_DEVICE, pbx_port)
            try:
                answered_call(first, f"sip:911@{PBX}:{pbx_port}", 1)
            finally:
                first.stop()
            (invite,) = psap.wait_invites(1)
            assert_emergency_invite(invite, InviteExpectation(
                request_user="911", callback_number=PBX_PHONE_CALLBACK,
                display_name="Desk Phone", has_location=True, civic=OFFICE))
            assert "X-E911-" not in invite
            second = softphone(tmp_path / "phone-12", PBX_PHONE_USER, SECOND_DEVICE, pbx_port)
            changed = next_network_changed(events)
        try:
            assert (changed["user"], changed["data"]["network"], changed["data"]["ip"]) == (
                PBX_PHONE_USER, f"{SECOND_DEVICE}/32", SECOND_DEVICE)
            assert router.count("e911.call.ended") == 1
            # an ordinary call from the new network: the announcement, then 403
            second.command("dial", f"sip:4065550123@{PBX}:{pbx_port}")
            blocked = calls_closed(second, 1)
            assert "403" in str(blocked.get("param")), blocked
            router.wait_event("e911.announce.front")
            (recording,) = second.recordings()
            seconds, rms = audio_stats(recording)
            assert abs(seconds - prompt_seconds("en")) < 1.0 and rms > 0.01, (seconds, rms)
            assert envelope_match(recording, PROMPTS / "en" / "address-not-registered.wav") > 0.9
            assert outbound.invites() == []
            answered_call(second, f"sip:933@{PBX}:{pbx_port}", 1)
            (test_invite,) = test.wait_invites(1)
            assert test_invite.startswith(f"INVITE sip:933@127.0.0.1:{test.port} SIP/2.0")
            assert carrier.invites() == []
            router.stop()
            answered_call(second, f"sip:911@{PBX}:{pbx_port}", 2)
            (fallback,) = carrier.wait_invites(1)
            assert fallback.startswith(f"INVITE sip:911@127.0.0.1:{carrier.port} SIP/2.0")
            assert psap.invites() == [invite]
        finally:
            second.stop()


def test_router_503_sends_911_and_9933_to_the_carrier_and_ordinary_calls_get_500(
    tmp_path: Path,
) -> None:
    """A router answering 503 (SIPp in its place) got 3003's calls with the device's address
    and its identity; the PBX sent 911 and 9933 on to the carrier's E911 trunk as 911 and 933,
    and answered the ordinary call 500 (a proxy turns a 503 into 500, RFC 3261 s16.7 step 6).
    A wrong password registers nothing."""
    with uas_trunks(tmp_path, "uas-trunk-503", "uas-psap-answer", calls=0) as (
            router, carrier), kamailio_pbx(tmp_path / "pbx", router.port, carrier.port) as pbx:
        intruder = softphone(tmp_path / "intruder", PBX_PHONE_USER, SECOND_DEVICE, pbx,
                             password="not-the-password", expect="401 Unauthorized")
        intruder.stop()
        phone = softphone(tmp_path / "phone", PBX_PHONE_USER, FIRST_DEVICE, pbx)
        try:
            answered_call(phone, f"sip:911@{PBX}:{pbx}", 1)
            answered_call(phone, f"sip:9933@{PBX}:{pbx}", 2)
            phone.command("dial", f"sip:4065550123@{PBX}:{pbx}")
            assert calls_closed(phone, 3).get("param") == "500 Service Unavailable"
        finally:
            phone.stop()
        tried = router.wait_invites(3)
        assert [i.split(" ", 2)[1].split("@")[0] for i in tried] == [
            "sip:911", "sip:9933", "sip:4065550123"]
        for invite in tried:
            assert f"\r\nX-E911-Device-IP: {FIRST_DEVICE}\r\n" in invite
            assert f"\r\nP-Asserted-Identity: <sip:{PBX_PHONE_USER}@{PBX}>\r\n" in invite
        sent = carrier.wait_invites(2)
        assert [i.split("\r\n", 1)[0] for i in sent] == [
            f"INVITE sip:911@127.0.0.1:{carrier.port} SIP/2.0",
            f"INVITE sip:933@127.0.0.1:{carrier.port} SIP/2.0"]
