"""The cold load profile (issue 19): every call of a run from a caller of its own, in the
issue's proportions, enough users seeded for SIPp's counts; and the bench's warm/cold report."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import Any

from scripts import loadlib
from scripts.bench_load import cpu_per_call_table, render, side_by_side
from scripts.loadlib import ClassResult, RunResult, Usage


def test_no_caller_repeats_and_the_proportions_are_the_issues(tmp_path: Path) -> None:
    plan = loadlib.cold_plan(1000, 90)
    classes = loadlib.cold_classes(plan, tmp_path)
    assert [(c.name, c.share) for c in classes] == [
        ("emergency", 0.099), ("normal", 0.8), ("unlocated", 0.101)]
    callers: list[str] = []
    for cls in classes:
        lines = Path(cls.csv).read_text().splitlines()
        assert lines[0] == "SEQUENTIAL"
        # SIPp places max(1, round(rate x share x seconds)) calls: the CSV never wraps round.
        assert len(lines) - 1 > round(1000 * cls.share * 90)
        callers += [line.split(";")[0] for line in lines[1:]]
        if cls.name == "emergency":
            assert {line.split(";")[1] for line in lines[1:]} == {"911"}
    assert len(callers) == len(set(callers))
    warm = {str(u) for u in (*loadlib.LOCATED_USERS, *loadlib.UNLOCATED_USERS,
                             *loadlib.OWN_CALLBACK_UNLOCATED_USERS)}
    assert not warm & set(callers)
    located = {str(u) for u in plan.located_users()}
    assert {c for c in callers if c in located} == located
    assert len(plan.located_users()) + len(plan.unlocated_users()) < 100_000
    numbers = [loadlib.cold_callers.cold_callback(u) for u in plan.located_users()]
    assert len(set(numbers)) == len(numbers)
    assert all(n.startswith("+1406") and len(n) == 12 for n in numbers)


def test_sipp_command_lines_name_the_run_directory_and_port_not_this_machines(
        tmp_path: Path) -> None:
    args = ["/usr/bin/sipp", "127.0.0.1:5099", "-sf",
            str(loadlib.LOAD / "uac-call-expect-200-hold.xml"), "-inf",
            str(tmp_path / "callers-cold-911.csv"), "-p", "40001", "-mp", "40002", "-m", "3"]
    assert loadlib.command_line(args, tmp_path, 5099) == (
        "sipp 127.0.0.1:$PORT -sf sipp-scenarios/load/uac-call-expect-200-hold.xml "
        "-inf $RUN/callers-cold-911.csv -m 3")


def _run(profile: str, rate: float, failed: int, kamailio_s: float) -> RunResult:
    classes = [ClassResult("emergency", 99, 99, 0, 0, 8.0, 30.0, 40.0, 0),
               ClassResult("normal", 800, 800 - failed, failed, 0, 1.0, 9.0, 20.0, 0),
               ClassResult("unlocated", 101, 101, 0, 0, 4.0, 12.0, 15.0, 0)]
    usage = Usage(cpu_core_share={"kamailio": 0.5, "worker-1": 0.4, "callers (SIPp)": 0.2},
                  cpu_seconds={"kamailio": kamailio_s, "worker-1": 2.0,
                               "callers (SIPp)": 9.0})
    return RunResult("router", profile, rate, 10, classes, usage, None,
                     commands=[f"sipp 127.0.0.1:$PORT -r {rate:g}"])


def test_the_report_shows_warm_and_cold_side_by_side_with_cpu_per_call() -> None:
    args = Namespace(seconds=90.0, step_seconds=10.0, hold_ms=1000, workers=4,
                     warmup_seconds=0.0, no_hold=True)
    results: dict[str, tuple[list[Any], Any]] = {
        "router (warm)": ([_run("mixed", 50, 0, 1.0), _run("mixed", 100, 0, 1.0)], None),
        "router (cold)": ([_run("cold", 50, 0, 3.0), _run("cold", 100, 7, 3.0)], None)}
    table = side_by_side(results)
    assert table[2] == ("| 50 | 0 | 8/30 · 1/9 · 4/12 | 3.00 | 0 | 8/30 · 1/9 · 4/12 | "
                        "5.00 |")
    assert table[3].startswith("| 100 | 0 |") and "| 7 |" in table[3]
    assert cpu_per_call_table(results) == []
    text = render(results, args, 0.0)
    assert "### Router: warm and cold callers, same steps" in text
    assert "| kamailio | 0.50 | 3.000 | 0 |" in text  # 3 s over 1,000 calls; SIPp left out
    assert "| callers (SIPp) | 0.20 | - | 0 |" in text
    assert "sipp 127.0.0.1:$PORT -r 100" in text
    assert "cold_callers.py --rate 100 --seconds 10 --out $RUN" in text


def test_a_probe_after_the_storm_is_judged_on_the_new_binding() -> None:
    """Old device IP answered 200: a stale route; new IP answered 403: a stale refusal; the
    expected answers count nothing; no answer, or a 403 with another Reason, is a failure."""
    rows = [("4000001", "4065550001", 2, "10.64.0.1"), ("4000001", "4065550001", 3, "10.96.0.1"),
            ("4000002", "4065550002", 4, "10.64.0.2"), ("4000002", "4065550002", 5, "10.96.0.2"),
            ("4000003", "4065550003", 6, "10.64.0.3"), ("4000003", "4065550003", 7, "10.96.0.3")]
    blocked = loadlib.CallerAnswer(403, loadlib.BLOCKED_REASON)
    answers = {2: blocked, 3: loadlib.CallerAnswer(200), 4: loadlib.CallerAnswer(200),
               5: blocked, 6: loadlib.CallerAnswer(403, "Forbidden")}
    result = loadlib.StormResult(users=3, primed=3)
    loadlib.judge_probes(result, rows, answers, {7: "timeout"})
    assert (result.probes, result.stale_routes, result.stale_refusals, result.probe_failed) == (
        6, 1, 1, 2)
    assert not result.ok
    assert result.examples[0] == "user 4000002 from 10.64.0.2: answered 200 (stale route)"
    assert loadlib.storm_ip(1, new=False) == "10.64.0.1"
    assert loadlib.storm_ip(1, new=True) == "10.96.0.1"


def test_every_trunk_must_receive_exactly_the_calls_routed_to_it() -> None:
    """The router: 911s at the PSAP, located ordinary calls (and the storm's answered calls)
    at the outbound trunk, none at the sorting center; a warm-up's calls are not counted."""
    classes = _run("cold", 100, 0, 1.0).classes
    counts = loadlib.expected_counts(
        "router", classes, {"outbound": 250}, {"outbound": 40},
        {"psap": 99, "sorting": 0, "outbound": 250 + 800 + 40})
    assert [(t.trunk, t.received, t.expected, t.ok) for t in counts] == [
        ("psap", 99, 99, True), ("sorting", 0, 0, True), ("outbound", 840, 840, True)]
    counts = loadlib.expected_counts("sippy", classes, {}, {},
                                     {"psap": 0, "sorting": 0, "outbound": 999})
    assert [t.ok for t in counts] == [True, True, False]


def test_the_warm_up_never_takes_a_cold_runs_callers(tmp_path: Path) -> None:
    """A warm-up reading the cold CSV would spend its first rows, and the measured run would
    then call those users again (from the front's cache)."""
    cold = loadlib.cold_classes(loadlib.cold_plan(10, 5), tmp_path)
    only = loadlib.warmup_class(cold)
    assert only is not None and only.csv == "callers-normal.csv" and only.share == 1.0
    assert loadlib.warmup_class(loadlib.PROFILES["emergency"]) is None
