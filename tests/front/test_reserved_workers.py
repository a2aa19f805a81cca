"""Workers reserved for 911/933 (E911_KAMAILIO_EMERGENCY_WORKERS), end to end: SIPp -> Kamailio
-> workers -> SIPp trunks on loopback.

Three workers, `auto` reserves the last one (worker-3, dispatcher set 2). A 911 tries it first,
then the ordinary workers, then the front's own emergency route; an ordinary call only ever
reaches worker-1 or worker-2, so a burst of ordinary calls never queues in front of a 911.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.processes import wait_until
from tests.support.router_run import RouterRun, requires_kamailio, running_router, send_invite
from tests.support.seeded_store import OFFICE, USER_CALLBACK
from tests.support.sipp import run_uac, uas_trunks

pytestmark = [pytest.mark.scenario, requires_kamailio]

WORKERS = 3
NUMBER = "4065550123"
WORKER_TIMEOUT_MS = 1000  # E911_KAMAILIO_WORKER_TIMEOUT_MS's default


def _located_911(psap_invite: str) -> None:
    """The caller's 911 as a strict PSAP checks it: RFC 6442 headers, schema-valid PIDF-LO with
    the bound office address, the caller's own callback number."""
    assert_emergency_invite(psap_invite, InviteExpectation(
        request_user="911", callback_number=USER_CALLBACK, display_name="Ada Lovelace",
        has_location=True, civic=OFFICE, language="en"))
    assert "X-E911-" not in psap_invite


def _lines(router: RouterRun, text: str) -> list[str]:
    with router._lock:
        return [line for line in router.lines if text in line]


def _worker_uri(router: RouterRun, k: int) -> str:
    return f"sip:127.0.0.1:{router.worker_ports[k - 1]}"


def test_ordinary_calls_stay_in_set_1_and_a_911_goes_to_the_reserved_worker(
    front_store_url: str, tmp_path: Path
) -> None:
    """E911_WORKERS=3, E911_KAMAILIO_EMERGENCY_WORKERS=auto: worker-1 and worker-2 in set 1,
    worker-3 alone in set 2; ordinary calls go round robin over set 1 only (route cache off, so
    every call reaches a worker), a 911 goes to worker-3."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer", calls=0) as (
            outbound, psap), \
            running_router({"E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_OUTBOUND": outbound.uri, "E911_TRUNK_PSAP": psap.uri,
                            "E911_KAMAILIO_ROUTE_CACHE_SECONDS": "0",
                            # Ordinary calls to workers at all (issue 19: the front would
                            # decide these itself).
                            "E911_FRONT_DECISIONS": "workers"}, tmp_path,
                           workers=WORKERS) as router:
        listed = (Path(router.env["E911_KAMAILIO_RUN_DIR"]) / "dispatcher.list").read_text()
        assert [line for line in listed.splitlines() if not line.startswith("#")] == [
            f"1 {_worker_uri(router, 1)} 0 0", f"1 {_worker_uri(router, 2)} 0 0",
            f"2 {_worker_uri(router, 3)} 0 0"]

        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service=NUMBER,
                         calls=6)
        assert result.ok, result.errors
        assert len(outbound.wait_invites(6)) == 6
        wait_until(lambda: router.count("e911.call.ended") >= 6, 20, "6 calls ended")
        ended = [e for e in router.events if e.get("event") == "e911.call.ended"]
        assert [e["result"] for e in ended] == ["redirected"] * 6
        # Round robin over the two ordinary workers; the reserved one took none of them.
        assert Counter(e["port"] for e in ended) == {
            router.worker_ports[0]: 3, router.worker_ports[1]: 3}

        mark = router.mark()
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        _located_911(psap.wait_invites(1)[0])
        ended_911 = router.wait_event("e911.call.ended", after=mark)
        assert (ended_911["port"], ended_911["result"], ended_911["trunk"]) == (
            router.worker_ports[2], "bridged", "psap")
        assert _lines(router, "e911.front.worker_timeout") == []


def test_911_keeps_its_location_while_every_ordinary_worker_is_stopped(
    front_store_url: str, tmp_path: Path
) -> None:
    """worker-1 and worker-2 stopped (SIGSTOP: alive, silent, as when a burst of ordinary calls
    fills their queues): a located caller's 911 is answered by the reserved worker at once (no
    worker timeout) and reaches the PSAP with a schema-valid PIDF-LO, never the sorting
    center; an ordinary call, once the stopped workers are out of set 1, gets 503 + Retry-After
    from the front without waiting on any worker: it never falls back to the reserved one."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting), \
            running_router({"E911_DATABASE_URL": front_store_url, "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri,
                            # The ordinary call below must need a worker (issue 19: the
                            # front would route a located caller's call itself).
                            "E911_FRONT_DECISIONS": "workers"}, tmp_path,
                           workers=WORKERS) as router:
        router.signal_worker("worker-1", signal.SIGSTOP)
        router.signal_worker("worker-2", signal.SIGSTOP)

        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        _located_911(psap.wait_invites(1)[0])
        ended = router.wait_event("e911.call.ended")
        assert (ended["port"], ended["result"], ended["trunk"], ended["location"]) == (
            router.worker_ports[2], "bridged", "psap", "binding")
        assert sorting.invites() == []
        assert _lines(router, "e911.front.worker_timeout") == []
        assert _lines(router, "e911.front.emergency_direct") == []

        # Probing (OPTIONS, 3 missed) takes the stopped workers out of set 1.
        for k in (1, 2):
            router.wait_line(f"e911.front.worker_down worker={_worker_uri(router, k)}")
        decided_before = router.count("e911.route.decided")
        started = time.monotonic()
        status = send_invite(router.sip_port, f"sip:{NUMBER}@127.0.0.1:{router.sip_port}")
        elapsed = time.monotonic() - started
        assert status == 503
        # Quicker than one worker timeout: no stopped worker was waited for.
        assert elapsed < WORKER_TIMEOUT_MS / 1000, elapsed
        result = run_uac("uac-expect-503", router.sip_port, tmp_path, service=NUMBER)
        assert result.ok, result.errors  # 503 with a Retry-After
        assert len(_lines(router, "e911.front.no_worker class=0")) == 2
        assert _lines(router, "e911.front.worker_timeout") == []
        # The reserved worker (the only one running) decided nothing about them.
        assert router.count("e911.route.decided") == decided_before


def test_911_fails_over_from_a_stopped_reserved_worker_then_to_the_sorting_center(
    front_store_url: str, tmp_path: Path
) -> None:
    """The reserved worker stopped: a 911 waits one worker timeout on it (the only
    worker_timeout line names it), then an ordinary worker takes it to the PSAP with its
    PIDF-LO; once probing has taken it out of set 2, the next 911 goes to an ordinary worker
    straight away (an empty set 2 is skipped, not taken for "no worker"). Every worker
    stopped: the front sends the next 911 to the sorting center itself."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer", calls=2) as (
            psap, sorting), \
            running_router({"E911_DATABASE_URL": front_store_url, "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri,
                            "E911_KAMAILIO_WORKER_TIMEOUT_MS": "500"}, tmp_path,
                           workers=WORKERS) as router:
        router.signal_worker("worker-3", signal.SIGSTOP)
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        _located_911(psap.wait_invites(1)[0])
        ended = router.wait_event("e911.call.ended")
        assert ended["port"] in router.worker_ports[:2]
        assert (ended["result"], ended["trunk"]) == ("bridged", "psap")
        timeouts = _lines(router, "e911.front.worker_timeout")
        assert [line.split("e911.front.worker_timeout ", 1)[1] for line in timeouts] == [
            f"worker={_worker_uri(router, 3)}"]
        assert sorting.invites() == []

        router.wait_line(f"e911.front.worker_down worker={_worker_uri(router, 3)}")
        mark = router.mark()
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        _located_911(psap.wait_invites(2)[1])
        ended = router.wait_event("e911.call.ended", after=mark)
        assert ended["port"] in router.worker_ports[:2]
        assert (ended["result"], ended["trunk"]) == ("bridged", "psap")
        assert len(_lines(router, "e911.front.worker_timeout")) == 1
        assert _lines(router, "e911.front.no_worker") == []

        router.signal_worker("worker-1", signal.SIGSTOP)
        router.signal_worker("worker-2", signal.SIGSTOP)
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = sorting.wait_invites(1)
        assert invite.startswith(f"INVITE sip:911@127.0.0.1:{sorting.port} SIP/2.0")
        assert len(psap.invites()) == 2
        router.wait_line("e911.front.emergency_direct class=1 attempt=1")
