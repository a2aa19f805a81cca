"""Front decisions (E911_FRONT_DECISIONS=python, issue 19), end to end: SIPp -> Kamailio (running
the router's decision code in-process, app_python3) -> SIPp trunks, with the route cache off.

A located caller's ordinary call and an invalid number are answered without a worker; an
unlocated caller and a 911 still go through a worker as before; a call placed right after a
binding change (no wait, no sleep) gets the new decision.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from router.location.model import DEFAULT_ACCOUNT_ID
from router.store.store import open_store
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.router_run import (
    RouterRun,
    front_stat,
    requires_kamailio,
    run_ctl_socket,
    running_router,
)
from tests.support.seeded_store import LOCATED_USER, OFFICE, PBX_PHONE_IP, USER_CALLBACK
from tests.support.sipp import run_uac, uas_trunks

pytestmark = [pytest.mark.scenario, requires_kamailio]

NUMBER = "4065550123"
CHANGES = 5
"""Binding changes in the read-your-writes test (each followed at once by a call)."""




def _worker_calls(router: RouterRun) -> int:
    """Calls a worker decided (each logs e911.call.received first)."""
    return router.count("e911.call.received")


def _env(store_url: str, **extra: str) -> dict[str, str]:
    return {"E911_DATABASE_URL": store_url, "E911_KAMAILIO_ROUTE_CACHE_SECONDS": "0",
            "E911_FRONT_DECISIONS": "python", **extra}


def test_located_call_and_invalid_number_are_decided_by_the_front_911_by_a_worker(
    front_store_url: str, tmp_path: Path
) -> None:
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer", calls=2) as (
            outbound, psap), \
            running_router(_env(front_store_url, E911_TRUNK_OUTBOUND=outbound.uri,
                                E911_TRUNK_PSAP=psap.uri), tmp_path) as router:
        for _ in range(2):
            result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service=NUMBER)
            assert result.ok, result.errors
        invites = outbound.wait_invites(2)
        expected = f"INVITE sip:+14065550123@127.0.0.1:{outbound.port} SIP/2.0"
        assert [i.splitlines()[0] for i in invites] == [expected] * 2
        assert all("X-E911-" not in i for i in invites)

        result = run_uac("uac-expect-404", router.sip_port, tmp_path, service="abc")
        assert result.ok, result.errors
        assert "SIP/2.0 404 Not a dialable number" in result.messages
        assert 'Reason: SIP;cause=404;text="Not a dialable number"' in result.messages

        assert (front_stat(run_ctl_socket(tmp_path), "decided_relay"),
                front_stat(run_ctl_socket(tmp_path), "decided_reply")) == (2, 1)
        assert _worker_calls(router) == 0  # no worker saw any of the three

        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            request_user="911", callback_number=USER_CALLBACK, display_name="Ada Lovelace",
            has_location=True, civic=OFFICE, language="en"))
        ended = router.wait_event("e911.call.ended", where=lambda e: e.get("result") == "bridged")
        assert ended["trunk"] == "psap"
        # The 911 never asked Python:
        assert front_stat(run_ctl_socket(tmp_path), "decided_relay") == 2


def test_a_pbx_phone_is_located_by_the_device_the_pbx_names(
    front_store_url: str, tmp_path: Path
) -> None:
    """Phone 3003 behind a PBX peer (127.0.0.2), bound at 10.1.2.3 only: the front decides
    with the PBX's device-IP header, as a worker would, and relays the call itself."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (outbound,), \
            running_router(_env(front_store_url, E911_TRUNK_OUTBOUND=outbound.uri,
                                E911_PBX_PEERS="127.0.0.2/32"), tmp_path) as router:
        result = run_uac("uac-device-ip-expect-200", router.sip_port, tmp_path,
                         service=NUMBER, caller_csv="callers-pbx-phone.csv",
                         source_ip="127.0.0.2", variables={"device_ip": PBX_PHONE_IP})
        assert result.ok, result.errors
        (invite,) = outbound.wait_invites(1)
        assert "X-E911-" not in invite
        assert front_stat(run_ctl_socket(tmp_path), "decided_relay") == 1
        assert _worker_calls(router) == 0


def test_unlocated_caller_still_gets_the_worker_announcement(
    front_store_url: str, tmp_path: Path
) -> None:
    with running_router(_env(front_store_url), tmp_path) as router:
        result = run_uac("uac-normal-unlocated-expect-183-403", router.sip_port, tmp_path,
                         service=NUMBER, caller_csv="callers-unlocated.csv",
                         variables={"rtp_port": "9"})
        assert result.ok, result.errors
        assert 'Reason: SIP;cause=403;text="Emergency address not registered"' in result.messages
        router.wait_event("e911.call.ended", where=lambda e: e.get("status") == 403)
        assert front_stat(run_ctl_socket(tmp_path), "decided_worker") == 1
        assert front_stat(run_ctl_socket(tmp_path), "decided_relay") == 0


def test_a_call_right_after_a_binding_change_uses_the_new_decision(
    front_store_url: str, tmp_path: Path
) -> None:
    """Cleared, then at once a call: the 183 + 403 path (never the old route); bound again,
    then at once a call: the outbound trunk. CHANGES times, no wait between change and call."""
    with uas_trunks(tmp_path, "uas-psap-answer", calls=CHANGES) as (outbound,), \
            running_router(_env(front_store_url, E911_TRUNK_OUTBOUND=outbound.uri),
                           tmp_path) as router:
        store = open_store(front_store_url, migrate=False)
        try:
            (binding,) = store.bindings_for_user(DEFAULT_ACCOUNT_ID, LOCATED_USER)
            for k in range(CHANGES):
                assert store.clear_binding(DEFAULT_ACCOUNT_ID, LOCATED_USER, binding.address_id)
                result = run_uac("uac-normal-unlocated-expect-183-403", router.sip_port,
                                 tmp_path, service=NUMBER, variables={"rtp_port": "9"})
                assert result.ok, (k, result.errors)
                assert len(outbound.invites()) == k

                store.bind(DEFAULT_ACCOUNT_ID, LOCATED_USER, binding.address_id, "127.0.0.1")
                result = run_uac("uac-911-expect-200", router.sip_port, tmp_path,
                                 service=NUMBER)
                assert result.ok, (k, result.errors)
                assert len(outbound.wait_invites(k + 1)) == k + 1
        finally:
            store.close()
        assert front_stat(run_ctl_socket(tmp_path), "decided_relay") == CHANGES
        assert front_stat(run_ctl_socket(tmp_path), "decided_worker") == CHANGES
