"""Done when (issue 8): after a SIPp run of every call class through `e911-router run` with
two workers, `/metrics` shows exactly the counts the run made, summed over both workers; the
911/933 calls left a verified record chain; `status` shows it on one screen."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from typing import Any

import pytest

from tests.observe.calls.supervised import Router
from tests.support.processes import wait_until
from tests.support.seeded_store import ACCOUNT_CALLBACK, USER_CALLBACK
from tests.support.sipp import run_uac

pytestmark = [pytest.mark.scenario, pytest.mark.slow]

Labels = tuple[tuple[str, str], ...]


def _calls(router: Router) -> dict[tuple[str, str], float]:
    return {(dict(k)["call_class"], dict(k)["outcome"]): v
            for k, v in router.series("e911_calls_total").items()}


def _by(series: dict[Labels, float], *keys: str) -> dict[tuple[str, ...], float]:
    return {tuple(dict(labels)[k] for k in keys): value for labels, value in series.items()}


def _place_every_call_class(router: Router) -> None:
    """911 located, 933, a redirected and an invalid call on worker 1; 911 unlocated, an
    announced normal call and an untrusted INVITE on worker 2."""
    one, two = router.worker_ports
    tmp = router.workdir
    runs = [
        run_uac("uac-911-expect-200", one, tmp, service="911"),
        run_uac("uac-911-expect-200", one, tmp, service="933"),
        run_uac("uac-normal-located-expect-302", one, tmp, service="94065550123"),
        run_uac("uac-expect-404", one, tmp, service="abc"),
        run_uac("uac-911-expect-200", two, tmp, service="911",
                caller_csv="callers-unlocated.csv"),
        run_uac("uac-normal-unlocated-expect-183-403", two, tmp, service="4065550123",
                caller_csv="callers-unknown.csv", variables={"rtp_port": "9"}),
        run_uac("uac-expect-403", two, tmp, service="911", source_ip="127.0.0.5"),
    ]
    assert [r.ok for r in runs] == [True] * 7, [r.errors for r in runs if not r.ok]


def test_metrics_show_exactly_the_calls_of_a_sipp_run_over_two_workers(router: Router) -> None:
    """Calls by class and outcome, setup-time counts, trunk attempts, trunk health, slots,
    records: every number is the one the run made."""
    _place_every_call_class(router)
    expected_calls = {
        ("emergency", "routed_psap"): 1.0,
        ("emergency", "routed_sorting_center"): 1.0,
        ("emergency_test", "routed_test"): 1.0,
        ("normal", "redirected"): 1.0,
        ("normal", "announced_blocked"): 1.0,
        ("invalid", "rejected"): 1.0,
        ("invalid", "rejected_untrusted"): 1.0,
        ("emergency", "failed"): 0.0,  # at 0 from the start: the alert's increase() needs it
    }
    wait_until(lambda: sum(_calls(router).values()) >= 7, 15, "7 calls counted")
    assert _calls(router) == expected_calls

    setup = _by(router.series("e911_call_setup_seconds_count"), "call_class")
    assert setup == {("emergency",): 2, ("emergency_test",): 1, ("normal",): 2,
                     ("invalid",): 2}
    # Every bridged emergency call was answered by its trunk well within 2 s.
    fast = _by({k: v for k, v in router.series("e911_call_setup_seconds_bucket").items()
                if dict(k)["le"] == "2.0"}, "call_class")
    assert fast[("emergency",)] == 2 and fast[("emergency_test",)] == 1

    trunks = router.trunks
    assert _by(router.series("e911_trunk_attempts_total"), "trunk", "status_class") == {
        (trunks["psap"].uri, "2xx"): 1, (trunks["sorting"].uri, "2xx"): 1,
        (trunks["test"].uri, "2xx"): 1}
    assert _by(router.series("e911_trunk_up"), "trunk", "purpose") == {
        (trunks["psap"].uri, "psap"): 1, (trunks["sorting"].uri, "sorting_center"): 1,
        (trunks["test"].uri, "test"): 1, ("sip:127.0.0.1:9", "outbound"): 0}

    one, two = (str(p) for p in router.worker_ports)
    wait_until(lambda: _by(router.series("e911_call_slots"), "worker", "state") == {
        (one, "in_use"): 0, (one, "free"): 4, (two, "in_use"): 0, (two, "free"): 4},
        10, "both workers' slots free again")
    lookups = router.series("e911_location_lookup_seconds_count")
    assert list(lookups.values()) == [6]  # every trusted INVITE asked the view once
    assert router.series("e911_worker_restarts_total") == {(): 0}
    assert router.series("e911_notification_oldest_pending_seconds") != {}
    assert router.series("e911_store_up") == {(): 1}

    router.log.wait_event("e911.record.written", timeout=15,
                          where=lambda e: router.log.count("e911.record.written") >= 3)
    assert router.series("e911_call_records_total") == {(("result", "written"),): 3}
    verify = router.e911_router("records", "verify")
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.splitlines()[0] == "chain intact: 3 records, last seq 3"

    exported = router.e911_router("records", "export", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    _check_records(router, json.loads(exported.stdout))

    status = router.e911_router("status")
    assert status.returncode == 0, status.stderr
    screen = status.stdout
    assert f"worker {one}" in screen and f"worker {two}" in screen
    assert f"UP    psap            {trunks['psap'].uri}" in screen
    assert "DOWN  outbound        sip:127.0.0.1:9" in screen
    assert "emergency       routed_psap                  1" in screen


def _check_records(router: Router, document: dict[str, Any]) -> None:
    """One record per 911/933 call: trunks, location, callback number, and the PIDF-LO exactly
    as the PSAP trunk received it; the 911 calls' contact notifications joined."""
    trunks = router.trunks
    by_outcome = {r["outcome"]: r for r in document["records"]}
    assert sorted(by_outcome) == ["routed_psap", "routed_sorting_center", "routed_test"]
    assert document["chain"]["intact"] is True
    located = by_outcome["routed_psap"]
    assert (located["dialed"], located["trunk_used"], located["callback_number"]) == (
        "911", trunks["psap"].uri, USER_CALLBACK)
    assert located["location_id"] and located["location_source"] == "binding"
    assert [(t["trunk"], t["status"]) for t in located["trunks_tried"]] == [
        (trunks["psap"].uri, 200)]
    (invite,) = trunks["psap"].invites()
    assert located["pidf_lo"] and located["pidf_lo"] in invite
    assert located["pidf_sha256"] == hashlib.sha256(located["pidf_lo"].encode()).hexdigest()
    assert [n["recipient"] for n in located["notifications"]] == ["ops@example.com"]
    unlocated = by_outcome["routed_sorting_center"]
    assert (unlocated["pidf_lo"], unlocated["pidf_sha256"], unlocated["location_id"]) == (
        None, "", "")
    assert unlocated["callback_number"] == ACCOUNT_CALLBACK
    test_call = by_outcome["routed_test"]
    assert (test_call["call_class"], test_call["dialed"], test_call["trunk_used"]) == (
        "emergency_test", "933", trunks["test"].uri)
    assert test_call["pidf_lo"] in trunks["test"].invites()[0]
    assert test_call["notifications"] == []  # E911_NOTIFY_ON_TEST_CALLS is off


def test_killed_worker_is_restarted_and_its_counts_survive(router: Router) -> None:
    """SIGKILL worker 2 after one call: the restart is counted, the call it handled stays in
    the totals, its slot gauges are replaced by the new process's."""
    two = router.worker_ports[1]
    assert run_uac("uac-normal-located-expect-302", two, router.workdir,
                   service="94065550123").ok
    wait_until(lambda: _calls(router).get(("normal", "redirected")) == 1, 10, "1 call counted")
    status = router.status_json()
    children = status["children"]
    assert isinstance(children, list)
    (victim,) = [c for c in children if c["name"] == "worker-2"]
    os.kill(victim["pid"], signal.SIGKILL)
    router.log.wait_event("e911.supervisor.restarted", timeout=20,
                          where=lambda e: e["child"] == "worker-2")
    wait_until(lambda: router.series("e911_worker_restarts_total") == {(): 1}, 10,
               "restart counted")
    assert not list((router.workdir / "var" / "metrics").glob(f"gauge_live*_{victim['pid']}.db"))
    assert _calls(router) == {("normal", "redirected"): 1.0, ("emergency", "failed"): 0.0}
    wait_until(lambda: _by(router.series("e911_call_slots"), "worker", "state").get(
        (str(two), "free")) == 4, 20, "the new worker 2 reports its slots")
    assert run_uac("uac-normal-located-expect-302", two, router.workdir,
                   service="94065550123").ok
    wait_until(lambda: _calls(router).get(("normal", "redirected")) == 2, 10,
               "the new worker's call added to the old one's")
