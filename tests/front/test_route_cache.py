"""The front's route cache (E911_KAMAILIO_ROUTE_CACHE_SECONDS), end to end: SIPp -> Kamailio ->
workers -> SIPp trunks on loopback, and the watcher that empties it when locations change.

The cache only ever replays a worker's own answer (the 302 for a located caller's ordinary
call); 911 and 933 never touch it, and an unlocated caller is never cached.
"""

from __future__ import annotations

import urllib.request
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
from tests.support.seeded_store import LOCATED_USER, OFFICE, USER_CALLBACK
from tests.support.sipp import run_uac, uas_trunks

pytestmark = [pytest.mark.scenario, requires_kamailio]

NUMBER = "4065550123"
WORKERS = 2  # running_router's default
WORKERS_DECIDE = {"E911_FRONT_DECISIONS": "workers"}
"""The cache remembers a worker's 302: with the front's own decisions (issue 19) no worker
would redirect a located caller's call, so these tests run the worker path."""




def _metrics(router: RouterRun) -> str:
    url = f"http://{router.env['E911_METRICS_LISTEN']}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _redirected(router_events: list[dict[str, object]]) -> int:
    return sum(1 for e in router_events
               if e.get("event") == "e911.call.ended" and e.get("result") == "redirected")


def test_repeated_located_call_is_routed_by_the_front_and_911_still_reaches_a_worker(
    front_store_url: str, tmp_path: Path
) -> None:
    """First call: worker 302, cache filled. Next two: the front routes them itself, to the very
    Request-URI the worker chose. A 911 from the same caller right after still goes through a
    worker and reaches the PSAP with its PIDF-LO."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer", calls=3) as (
            outbound, psap), \
            running_router({"E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_OUTBOUND": outbound.uri, "E911_TRUNK_PSAP": psap.uri,
                            "E911_KAMAILIO_ROUTE_CACHE_SECONDS": "60", **WORKERS_DECIDE},
                           tmp_path) as router:
        for _ in range(3):
            result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service=NUMBER)
            assert result.ok, result.errors
        invites = outbound.wait_invites(3)
        expected = f"INVITE sip:+14065550123@127.0.0.1:{outbound.port} SIP/2.0"
        assert [i.splitlines()[0] for i in invites] == [expected] * 3
        assert all("X-E911-" not in i for i in invites)
        router.wait_event("e911.call.ended", where=lambda e: e.get("result") == "redirected")
        assert (front_stat(run_ctl_socket(tmp_path), "route_cache_filled"),
                front_stat(run_ctl_socket(tmp_path), "route_cache_hit")) == (1, 2)
        assert _redirected(router.events) == 1  # only the first call reached a worker
        metrics = _metrics(router)
        assert 'e911_front_route_cache_total{result="hit"} 2.0' in metrics
        assert 'e911_front_route_cache_total{result="filled"} 1.0' in metrics

        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            request_user="911", callback_number=USER_CALLBACK, display_name="Ada Lovelace",
            has_location=True, civic=OFFICE, language="en"))
        ended = router.wait_event("e911.call.ended", where=lambda e: e.get("result") == "bridged")
        assert ended["trunk"] == "psap"
        assert front_stat(run_ctl_socket(tmp_path), "route_cache_hit") == 2


def test_unlocated_caller_is_never_cached(front_store_url: str, tmp_path: Path) -> None:
    """A caller with no address: the worker blocks the call (183 + 403) and nothing is cached,
    so every later call of theirs reaches a worker too (a hit needs a filled entry)."""
    with running_router({"E911_DATABASE_URL": front_store_url,
                         "E911_KAMAILIO_ROUTE_CACHE_SECONDS": "60", **WORKERS_DECIDE},
                        tmp_path) as router:
        result = run_uac("uac-normal-unlocated-expect-183-403", router.sip_port, tmp_path,
                         service=NUMBER, caller_csv="callers-unlocated.csv",
                         variables={"rtp_port": "9"})
        assert result.ok, result.errors
        router.wait_event("e911.call.ended", where=lambda e: e.get("status") == 403)
        assert (front_stat(run_ctl_socket(tmp_path), "route_cache_filled"),
                front_stat(run_ctl_socket(tmp_path), "route_cache_hit")) == (0, 0)


def test_cleared_binding_empties_the_cache_and_the_next_call_is_announced(
    front_store_url: str, tmp_path: Path
) -> None:
    """Cached, then the caller's binding is cleared: the router empties the front's table (a
    logged flush) and the caller's next ordinary call reaches a worker, which blocks it."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (outbound,), \
            running_router({"E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_OUTBOUND": outbound.uri,
                            "E911_KAMAILIO_ROUTE_CACHE_SECONDS": "60", **WORKERS_DECIDE},
                           tmp_path) as router:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service=NUMBER)
        assert result.ok, result.errors
        outbound.wait_invites(1)
        assert front_stat(run_ctl_socket(tmp_path), "route_cache_filled") == 1

        mark = router.mark()
        store = open_store(front_store_url, migrate=False)
        try:
            (binding,) = store.bindings_for_user(DEFAULT_ACCOUNT_ID, LOCATED_USER)
            assert store.clear_binding(DEFAULT_ACCOUNT_ID, LOCATED_USER, binding.address_id)
            seq = store.change_seq()
        finally:
            store.close()
        router.wait_event("e911.front.cache_flushed", after=mark)
        # Both workers' views have the change too: a worker, not the cache, decides now.
        router.wait_views_at(seq, WORKERS)

        result = run_uac("uac-normal-unlocated-expect-183-403", router.sip_port, tmp_path,
                         service=NUMBER, variables={"rtp_port": "9"})
        assert result.ok, result.errors
        assert 'Reason: SIP;cause=403;text="Emergency address not registered"' in result.messages
        assert front_stat(run_ctl_socket(tmp_path), "route_cache_hit") == 0
        assert len(outbound.invites()) == 1
