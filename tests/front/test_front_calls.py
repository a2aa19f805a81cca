"""Calls through the front: SIPp -> Kamailio -> workers -> SIPp trunks, all on loopback.

The router runs as `python -m router run` (supervisor, Kamailio, two workers); the callers and
trunks are SIPp. What reaches each trunk is checked as captured there.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.router_run import requires_kamailio, running_router
from tests.support.seeded_store import OFFICE, PBX_PHONE_CALLBACK, PBX_PHONE_IP, USER_CALLBACK
from tests.support.sipp import UacResult, run_uac, uas_trunks

pytestmark = [pytest.mark.scenario, requires_kamailio]


def _received(result: UacResult) -> list[str]:
    """Status lines the caller received, in order."""
    return re.findall(r"^SIP/2\.0 (\d{3}) ", "\n".join(
        block for block in result.messages.split("-" * 47) if "message received" in block),
        re.M)


def test_911_through_the_front_reaches_psap_with_valid_pidf_lo(
    front_store_url: str, tmp_path: Path
) -> None:
    """A located caller's 911 goes Kamailio -> worker -> PSAP with PAI, Priority and a
    schema-valid PIDF-LO; the worker located the caller from the device IP the front passed."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting), \
            running_router({"E911_DATABASE_URL": front_store_url, "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            request_user="911", callback_number=USER_CALLBACK, display_name="Ada Lovelace",
            has_location=True, civic=OFFICE, language="en"))
        assert "X-E911-" not in invite
        assert sorting.invites() == []
        ended = router.wait_event("e911.call.ended")
        assert (ended["result"], ended["trunk"], ended["location"]) == (
            "bridged", "psap", "binding")


def test_normal_located_call_reaches_outbound_trunk_and_the_302_stays_in_the_front(
    front_store_url: str, tmp_path: Path
) -> None:
    """The worker answers 302; Kamailio follows it: the outbound trunk gets the INVITE for the
    E.164 number and the caller sees only the trunk's answer (never a 302)."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (outbound,), \
            running_router({"E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_OUTBOUND": outbound.uri,
                            # The worker path (the front decides it itself otherwise, issue
                            # 19: tests/front/test_front_decide.py).
                            "E911_FRONT_DECISIONS": "workers"}, tmp_path) as router:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="4065550123")
        assert result.ok, result.errors
        (invite,) = outbound.wait_invites(1)
        assert invite.startswith(f"INVITE sip:+14065550123@127.0.0.1:{outbound.port} SIP/2.0")
        assert "X-E911-" not in invite
        assert "302" not in _received(result)
        assert _received(result)[-2:] == ["200", "200"]
        ended = router.wait_event("e911.call.ended")
        assert (ended["result"], ended["status"]) == ("redirected", 302)


def test_normal_unlocated_call_gets_403_with_reason_through_the_front(
    front_store_url: str, tmp_path: Path
) -> None:
    """No address: the announcement (183), then 403 with the RFC 3326 Reason, via Kamailio."""
    with running_router({"E911_DATABASE_URL": front_store_url}, tmp_path) as router:
        result = run_uac("uac-normal-unlocated-expect-183-403", router.sip_port, tmp_path,
                         service="4065550123", caller_csv="callers-unlocated.csv",
                         variables={"rtp_port": "9"})
        assert result.ok, result.errors
        assert 'Reason: SIP;cause=403;text="Emergency address not registered"' in result.messages
        ended = router.wait_event("e911.call.ended", timeout=30)
        assert (ended["result"], ended["status"]) == ("announced", 403)


def test_911_reaches_the_sorting_center_when_no_worker_answers(
    front_store_url: str, tmp_path: Path
) -> None:
    """Every worker stopped (SIGSTOP: alive, silent): Kamailio waits E911_KAMAILIO_WORKER_TIMEOUT_MS
    per worker, then sends the 911 to the sorting center itself, R-URI 911, Priority: emergency."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting), \
            running_router({"E911_DATABASE_URL": front_store_url, "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri,
                            "E911_KAMAILIO_WORKER_TIMEOUT_MS": "500"}, tmp_path) as router:
        router.signal_workers(signal.SIGSTOP)
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="9911")
        assert result.ok, result.errors
        (invite,) = sorting.wait_invites(1)
        assert invite.startswith(f"INVITE sip:911@127.0.0.1:{sorting.port} SIP/2.0")
        assert re.search(r"^Priority: emergency\r?$", invite, re.M)
        assert "X-E911-" not in invite
        assert psap.invites() == []
        router.wait_line("e911.front.emergency_direct class=1 attempt=1")


def test_untrusted_sender_is_refused_by_the_front(front_store_url: str, tmp_path: Path) -> None:
    """A source outside E911_TRUSTED_PEERS gets 403 from Kamailio; no worker sees the INVITE."""
    with running_router({"E911_DATABASE_URL": front_store_url,
                         "E911_TRUSTED_PEERS": "127.0.0.1/32"}, tmp_path) as router:
        result = run_uac("uac-expect-403", router.sip_port, tmp_path, service="911",
                         source_ip="127.0.0.5")
        assert result.ok, result.errors
        router.wait_line("e911.front.untrusted source=127.0.0.5")
        assert router.count("e911.route.decided") == 0
        assert router.count("e911.ingress.untrusted") == 0


def test_pbx_names_the_calling_device_and_the_worker_locates_it(
    front_store_url: str, tmp_path: Path
) -> None:
    """From a PBX peer (127.0.0.2) the device-IP header is passed on: phone 3003, bound at
    10.1.2.3 only, is located; a private header the PBX sent never leaves the front."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (outbound,), \
            running_router({"E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_OUTBOUND": outbound.uri,
                            "E911_PBX_PEERS": "127.0.0.2/32",
                            "E911_FRONT_DECISIONS": "workers"}, tmp_path) as router:
        result = run_uac("uac-device-ip-expect-200", router.sip_port, tmp_path,
                         service="4065550123", caller_csv="callers-pbx-phone.csv",
                         source_ip="127.0.0.2", variables={"device_ip": PBX_PHONE_IP})
        assert result.ok, result.errors
        (invite,) = outbound.wait_invites(1)
        assert "X-E911-" not in invite
        ended = router.wait_event("e911.call.ended")
        assert (ended["result"], ended["status"]) == ("redirected", 302)


def test_device_header_from_a_direct_sender_is_replaced_by_its_source(
    front_store_url: str, tmp_path: Path
) -> None:
    """A trusted softphone that is not a PBX cannot claim another device's address: Kamailio
    strips the header and sends its source address, so 3003 is unlocated and gets 403."""
    with running_router({"E911_DATABASE_URL": front_store_url,
                         "E911_PBX_PEERS": "127.0.0.2/32"}, tmp_path) as router:
        result = run_uac("uac-device-ip-expect-403", router.sip_port, tmp_path,
                         service="4065550123", caller_csv="callers-pbx-phone.csv",
                         variables={"device_ip": PBX_PHONE_IP})
        assert result.ok, result.errors
        assert 'Reason: SIP;cause=403;text="Emergency address not registered"' in result.messages
        decided = router.wait_event("e911.route.decided")
        assert decided["located"] is False


def test_pbx_phone_911_carries_its_own_callback_and_location(
    front_store_url: str, tmp_path: Path
) -> None:
    """The PBX phone's 911 reaches the PSAP with its callback number and its desk address."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (psap,), \
            running_router({"E911_DATABASE_URL": front_store_url, "E911_TRUNK_PSAP": psap.uri,
                            "E911_PBX_PEERS": "127.0.0.2/32"}, tmp_path) as router:
        result = run_uac("uac-device-ip-expect-200", router.sip_port, tmp_path, service="911",
                         caller_csv="callers-pbx-phone.csv", source_ip="127.0.0.2",
                         variables={"device_ip": PBX_PHONE_IP})
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            callback_number=PBX_PHONE_CALLBACK, has_location=True, civic=OFFICE))
        assert router.wait_event("e911.call.ended")["trunk"] == "psap"
