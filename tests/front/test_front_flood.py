"""Emergency calls keep their location under a flood of ordinary calls (issue 13, finding 6),
with the default 2 workers (no worker reserved for 911/933).

A trusted PBX (127.0.0.2: pike does not apply to it) floods the front with unlocated ordinary
calls at 1,200 a second, more than 2 workers take; a softphone (127.0.0.1) places 911s during
the flood. Every 911 must reach the PSAP trunk with a schema-valid PIDF-LO and its callback
number, none the sorting center.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.paths import REPO
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.ports import free_port
from tests.support.processes import wait_until
from tests.support.router_run import requires_kamailio, running_router
from tests.support.seeded_store import OFFICE, USER_CALLBACK
from tests.support.sipp import SIPP, run_uac, uas_trunks

pytestmark = [pytest.mark.scenario, requires_kamailio]

PBX = "127.0.0.2"
FLOOD_RATE = 1200
FLOOD_SECONDS = 12
EMERGENCY_CALLS = 6


def start_flood(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """SIPp from the PBX: unlocated user 2002 dials an ordinary number FLOOD_RATE times a
    second for FLOOD_SECONDS (bounded: -m, -timeout), whatever each call gets (403, 503)."""
    csv = workdir / "flood.csv"
    csv.write_text("SEQUENTIAL\n2002;4065550123\n")
    return subprocess.Popen(
        [SIPP, f"127.0.0.1:{port}", "-sf",
         str(REPO / "sipp-scenarios" / "load" / "uac-unlocated-expect-403.xml"),
         "-inf", str(csv), "-r", str(FLOOD_RATE), "-rp", "1000",
         "-m", str(FLOOD_RATE * FLOOD_SECONDS), "-l", str(FLOOD_RATE * 4),
         "-i", PBX, "-p", str(free_port(PBX)), "-mp", str(free_port()), "-nostdin",
         "-recv_timeout", "8000", "-timeout", f"{FLOOD_SECONDS + 20}s", "-max_socket", "4096",
         "-trace_stat", "-stf", str(workdir / "flood-stat.csv"), "-fd", "1"],
        cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


def test_every_911_keeps_its_location_during_a_flood_of_ordinary_calls_from_a_pbx(
    front_store_url: str, tmp_path: Path
) -> None:
    """Default 2 workers, a 1,200 calls/s flood of unlocated ordinary calls from a trusted PBX:
    each of the 911s placed during it is answered by a worker and reaches the PSAP trunk with
    the caller's office address (schema-valid PIDF-LO) and callback number."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer", calls=0) as (
            psap, sorting), \
            running_router({"E911_DATABASE_URL": front_store_url, "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri,
                            "E911_PBX_PEERS": f"{PBX}/32",
                            # SIPp trunks share the CPU with the flood: a slow answer is not
                            # what this test is about (the PSAP fallback has its own tests).
                            "E911_TRUNK_TIMEOUT_SECONDS": "10"}, tmp_path) as router:
        flood = start_flood(router.sip_port, tmp_path)
        try:
            # The workers' queues fill first: the 911s come once the flood is under way.
            wait_until(lambda: router.count("e911.route.decided") >= 200 or
                       flood.poll() is not None, 10, "the flood reaching the workers")
            # The 911s start (one a second) while the flood has seconds left to run.
            during = flood.poll() is None
            result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911",
                             calls=EMERGENCY_CALLS, rate=1, timeout=40)
        finally:
            flood.wait(FLOOD_SECONDS + 40)
        seen = {text: sum(1 for line in router.lines if text in line) for text in (
            "e911.front.emergency_direct", "e911.front.redirect_malformed",
            "e911.front.worker_timeout", "e911.front.workers_behind")}
        assert result.ok, (seen, result.errors)
        try:
            invites = psap.wait_invites(EMERGENCY_CALLS, timeout=20)
        except AssertionError as exc:
            lines = [line for line in router.lines if "class=1" in line or "refused" in line
                     or "retry" in line or "status=" in line] + [
                str(e) for e in router.events if str(e.get("call_id", "")).endswith("@127.0.0.1")
                and e.get("event") != "e911.bridge.state"]
            raise AssertionError(f"{exc}; {seen}; sorting center: {len(sorting.invites())}; "
                                 + "\n".join(lines[-30:])) from None
        for invite in invites:
            assert_emergency_invite(invite, InviteExpectation(
                request_user="911", callback_number=USER_CALLBACK,
                display_name="Ada Lovelace", has_location=True, civic=OFFICE))
        # No 911 was sent on by the front without a worker (without its location). (A worker
        # may still try the sorting center after the PSAP trunk, a SIPp sharing the CPU with
        # the flood, was slower than E911_TRUNK_TIMEOUT_SECONDS: that 911 reached the PSAP
        # first, located, as checked above.)
        assert (seen["e911.front.emergency_direct"], seen["e911.front.redirect_malformed"]) == (
            0, 0), seen
        assert during, "the flood ended before the 911s started"
