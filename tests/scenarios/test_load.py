"""Short load runs of one worker (the long ones: scripts/sip-bench flood|soak)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.support.sipp import sipp_load, uas_trunks
from tests.support.worker import WorkerFactory, last_stats, wait_idle

pytestmark = [pytest.mark.scenario, pytest.mark.slow]


def test_flood_5s_worker_survives_and_every_911_gets_its_route(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """5 s of redirects (400/s) and unlocated callers (100/s); five 911s sent into it each
    reach the PSAP (bridged) or the front (302 to the emergency route), none is refused."""
    with uas_trunks(tmp_path, "uas-psap-answer", calls=0) as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_TIMEOUT_SECONDS="2")
        floods: dict[str, dict[str, object]] = {}

        def flood(name: str, scenario: str, csv_name: str, rate: int) -> None:
            floods[name] = sipp_load(scenario, worker.port, tmp_path, service="4065550123",
                                     rate=rate, calls=rate * 5, csv_name=csv_name)

        threads = [
            threading.Thread(target=flood, args=("redirect", "uac-normal-located-expect-302",
                                                 "callers-located.csv", 400)),
            threading.Thread(target=flood, args=("unlocated", "uac-expect-503",
                                                 "callers-unknown.csv", 100)),
        ]
        for thread in threads:
            thread.start()
        emergency = sipp_load("uac-911-expect-200", worker.port, tmp_path, service="911",
                              rate=1, calls=5, limit=1)
        for thread in threads:
            thread.join(60)
        assert worker.proc.poll() is None
        bridged = len({m.split("Call-ID:", 1)[1].split()[0] for m in psap.invites()})
        fronted = worker.count("e911.emergency.front")
        assert bridged + fronted == 5, (emergency, floods)
        assert floods["redirect"]["failed"] == 0, floods
        assert set(floods["unlocated"]["failures"]) <= {"SIP/2.0 183"}, floods  # type: ignore[arg-type]
        idle = wait_idle(worker)
        assert (idle["legs"], idle["held"], idle["controllers"]) == (0, 0, 0)


def test_soak_1000_calls_of_every_class_frees_every_slot(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """1,000 calls (redirect, 404, untrusted 403, 911 located/unlocated, 933, 503): every one
    ends as expected, every slot is free afterwards and RSS grew by less than 40 MB."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer", "uas-psap-answer",
                    calls=0) as (psap, sorting, test):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_SORTING_CENTER=sorting.uri,
                                E911_TRUNK_TEST=test.uri)
        start = wait_idle(worker)
        plan = [
            ("uac-normal-located-expect-302", "4065550123", "callers-located.csv", 600, 200,
             None, "127.0.0.1"),
            ("uac-expect-404", "abc", "callers-located.csv", 100, 200, None, "127.0.0.1"),
            ("uac-expect-403", "911", "callers-located.csv", 100, 200, None, "127.0.0.5"),
            ("uac-expect-503", "4065550123", "callers-unknown.csv", 100, 50, None,
             "127.0.0.1"),
            ("uac-911-expect-200", "911", "callers-located.csv", 60, 20, 1, "127.0.0.1"),
            ("uac-911-expect-200", "911", "callers-unlocated.csv", 20, 20, 1, "127.0.0.1"),
            ("uac-911-expect-200", "933", "callers-located.csv", 20, 20, 1, "127.0.0.1"),
        ]
        results = []
        for scenario, service, csv_name, calls, rate, limit, source in plan:
            result = sipp_load(scenario, worker.port, tmp_path, service=service, rate=rate,
                               calls=calls, csv_name=csv_name, source_ip=source, limit=limit)
            results.append((scenario, service, result["successful"], result["failed"],
                            result["failures"]))
        end = wait_idle(worker)
        assert worker.proc.poll() is None
        failed = [r for r in results if r[3]]
        # Unknown callers get 503 or, when the announcement slot is free, the 183 of their
        # announcement (SIPp, expecting 503, then gives up on the call): nothing else.
        assert all(r[0] == "uac-expect-503" and set(r[4]) <= {"SIP/2.0 183"}
                   for r in failed), results
        assert (end["legs"], end["held"], end["controllers"], end["pending"]) == (0, 0, 0, 0)
        growth_kb = int(str(end["rss_kb"])) - int(str(start["rss_kb"]))
        assert growth_kb < 40_000, (start, end)
        assert last_stats(worker)["invites"] == 1000

