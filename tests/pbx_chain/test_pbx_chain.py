"""The reference PBX chain end to end (issue 17): softphones (baresip) registered with digest
credentials to a Kamailio PBX (deploy/pbx/), the PBX in front of the whole router, SIPp trunks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_events import Stream, stream
from tests.front.conftest import OFFICE, PBX_PHONE_CALLBACK, PBX_PHONE_USER, requires_kamailio
from tests.front.harness import running_router
from tests.front.test_front_announce import announce_env, envelope_match, prompt_seconds
from tests.pbx_chain.chain import PBX, answered_call, calls_closed, kamailio_pbx, softphone
from tests.pbx_chain.conftest import FIRST_DEVICE, SECOND_DEVICE
from tests.pidf_check import InviteExpectation, assert_emergency_invite
from tests.scenarios.baresip import audio_stats
from tests.scenarios.harness import PROMPTS, uas_trunks, wait_until

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
