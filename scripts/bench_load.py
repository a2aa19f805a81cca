"""Benchmark section "load" (./scripts/bench load): the highest mixed-profile rate held with zero
failed calls, for the router and for two peers on the same machine in the same run.

For each system: step the rate up (short steps) until a step fails, then hold the best passing
rate for the full duration (90 s by default), stepping down while that fails. A call fails when
SIPp's caller says so (wrong or missing answer, timeout) and, for the router, when an answered
911 did not reach the PSAP with a schema-valid PIDF-LO and a located caller's callback number.

Systems: the router (`e911-router run`: Kamailio + E911_WORKERS workers); peer (a) Kamailio
alone doing the same 911/933 classification without location (scripts/peers/); peer (b) the
sippy B2BUA from PyPI bridging every call. The peers know no location, so for them every call
of the same traffic is expected answered.

Prints markdown (figures + the exact commands) on stdout. With `--chart PATH.svg` (as
`./scripts/bench load` runs it) it also saves every measured run to PATH.json and draws the
chart of calls per second against failed calls and setup p99 from it (scripts/bench_chart.py).
Loopback only; every run is bounded by scripts/loadlib.py (rate <= 3,000/s, <= 900 s).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_chart
import loadlib
from loadlib import RunResult

DEFAULT_STEPS = {
    "router": (50, 100, 200, 300, 400, 600, 800, 1000, 1200),
    "kamailio-proxy": (200, 400, 800, 1200, 1600, 2000, 2500, 3000),
    "sippy": (25, 50, 100, 150, 200, 300, 400),
}


def _run(system: str, rate: float, seconds: float, args: argparse.Namespace, root: Path,
         tag: str) -> RunResult:
    workdir = root / f"{system}-{tag}-{rate:g}"
    result = loadlib.run_once(system, "mixed", rate=rate, seconds=seconds,
                              hold_ms=args.hold_ms, workers=args.workers, workdir=workdir,
                              tag=tag, warmup_seconds=args.warmup_seconds)
    print(f"[bench load] {system} {rate:g}/s {seconds:g}s -> "
          f"{'ok' if result.ok else f'{result.failed} failed'}", file=sys.stderr)
    return result


def search(system: str, args: argparse.Namespace, root: Path
           ) -> tuple[list[RunResult], RunResult | None]:
    """Steps up until one fails; then the best passing rate held `args.seconds`."""
    steps: list[RunResult] = []
    best = 0.0
    for step_rate in DEFAULT_STEPS[system]:
        result = _run(system, step_rate, args.step_seconds, args, root, "step")
        steps.append(result)
        if not result.ok:
            break
        best = float(step_rate)
    held: RunResult | None = None
    rate = best
    while rate > 0:
        held = _run(system, rate, args.seconds, args, root, "hold")
        if held.ok:
            return steps, held
        steps.append(held)
        rate = float(math.floor(rate * 0.8))
        held = None
    return steps, held


def _fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def _class_table(result: RunResult) -> list[str]:
    lines = ["| class | calls | failed | setup p50 (ms) | setup p99 (ms) | max (ms) |",
             "|---|---|---|---|---|---|"]
    for c in result.classes:
        lines.append(f"| {c.name} | {c.offered} | {c.offered - c.successful} | "
                     f"{_fmt(c.setup_p50_ms)} | {_fmt(c.setup_p99_ms)} | "
                     f"{_fmt(c.setup_max_ms)} |")
    return lines


def _usage_table(result: RunResult) -> list[str]:
    usage = result.usage
    lines = ["| process | CPU (share of one core) | peak RSS (MB) |", "|---|---|---|"]
    for name in sorted(usage.cpu_core_share):
        lines.append(f"| {name} | {usage.cpu_core_share[name]:.2f} | "
                     f"{usage.rss_peak_mb.get(name, 0.0):.0f} |")
    lines.append(f"| *machine (all processes)* | {usage.machine_busy_share:.2f} of "
                 f"{os.cpu_count()} cores | |")
    lines.append(f"| *other engineers' processes* | {usage.others_core_share:.2f} | |")
    return lines


def chart_points(results: dict[str, tuple[list[RunResult], RunResult | None]],
                 args: argparse.Namespace) -> list[bench_chart.Point]:
    """Every run measured, in order: the steps, then the hold that passed. A hold that failed
    is in `steps` (see `search`): it is told apart by its length."""
    points = []
    for steps, held in results.values():
        for step in steps:
            long_run = step.seconds == args.seconds and args.seconds != args.step_seconds
            points.append(bench_chart.point_of(step, held=long_run))
        if held is not None:
            points.append(bench_chart.point_of(held, held=True))
    return points


def render(results: dict[str, tuple[list[RunResult], RunResult | None]],
           args: argparse.Namespace, started: float, chart: str | None = None) -> str:
    out = ["## Load: mixed profile through the front, against two peers", ""]
    out.append(
        f"Mixed profile (`sipp-scenarios/load/`): 10% 911 from located callers, 80% normal calls "
        f"from located callers, 10% normal calls from unlocated callers; answered calls held "
        f"{args.hold_ms} ms. Router: `e911-router run` with Kamailio in front of "
        f"{args.workers} workers, `E911_ANNOUNCE_OVERFLOW=reject`, other settings default. A "
        f"step is {args.step_seconds:g} s; the rate reported is the best step held again for "
        f"{args.seconds:g} s with zero failed calls (for the router also: every answered 911 "
        f"at the PSAP trunk with a schema-valid PIDF-LO and the caller's callback number). "
        + (f"Every run (step or hold, every system) starts after a {args.warmup_seconds:g} s "
           f"warm-up of located ordinary calls at a quarter of its rate, not counted "
           f"(`loadlib.warm_up`): steady state, the router's route cache holding its callers "
           f"(a cold start, every caller new at once: docs/capacity.md). "
           if args.warmup_seconds > 0 else "")
        + f"Run took {(time.monotonic() - started) / 60:.0f} min.")
    out.append("")
    measured = [r for steps, held in results.values() for r in [*steps, *([held] if held else [])]]
    others = max((r.usage.others_core_share for r in measured), default=0.0)
    if others > 0.2:
        out.append(f"**The machine was shared**: other processes took up to {others:.2f} of the "
                   f"2 cores during these runs (each table: *other engineers' processes*), so "
                   f"these rates are lower bounds for a quiet 2-core host.")
    else:
        out.append(f"The machine was otherwise quiet: processes outside the runs took at most "
                   f"{others:.2f} of a core.")
    out.append("")
    if chart is not None:
        out.append(f"![Offered calls/s against failed calls and setup p99, every step and hold "
                   f"below]({chart})")
        out.append("")
        out.append(f"Chart: every run below (dots: {args.step_seconds:g} s steps; rings: "
                   f"{args.seconds:g} s holds); setup p99 per call class on a log scale. Data: "
                   f"`{Path(chart).with_suffix('.json').as_posix()}`.")
        out.append("")
    held_rates: dict[str, float] = {}
    for system, (steps, held) in results.items():
        out.append(f"### {system}")
        out.append("")
        out.append("| step | rate (calls/s) | seconds | failed | verdict |")
        out.append("|---|---|---|---|---|")
        for index, step in enumerate(steps, 1):
            out.append(f"| {index} | {step.rate:g} | {step.seconds:g} | {step.failed} | "
                       f"{'ok' if step.ok else 'failed'} |")
        out.append("")
        if held is None:
            out.append("_No rate held with zero failures._")
            out.append("")
            continue
        held_rates[system] = held.rate
        out.append(f"**Held {held.rate:g} calls/s for {held.seconds:g} s with zero failed "
                   f"calls.**" + (f" PSAP: {held.psap.valid} of {held.psap.invites} 911 "
                                  f"INVITEs valid." if held.psap is not None else ""))
        out.append("")
        out += _class_table(held)
        out.append("")
        out += _usage_table(held)
        out.append("")
    for system, why in getattr(args, "not_measured", {}).items():
        out += [f"### {system}", "", f"_Not measured: {why}_", ""]
    if "router" in held_rates:
        out.append("### Ratios")
        out.append("")
        for peer in ("kamailio-proxy", "sippy"):
            if peer in held_rates:
                out.append(f"- router / {peer}: {held_rates['router'] / held_rates[peer]:.2f} "
                           f"({held_rates['router']:g} vs {held_rates[peer]:g} calls/s)")
        out.append("")
    out.append("Rerun:")
    out.append("")
    out.append("```")
    out.append(f"./scripts/bench load        # python scripts/bench_load.py --seconds "
               f"{args.seconds:g} --step-seconds {args.step_seconds:g} --workers {args.workers}"
               f" --warmup-seconds {args.warmup_seconds:g}"
               + (" --chart docs/benchmarks-load.svg" if chart is not None else ""))
    router_rate = held_rates.get("router", 200)
    out.append(f"./scripts/load mixed --rate {router_rate:g} --seconds {args.seconds:g} "
               f"--workers {args.workers} --warmup-seconds {args.warmup_seconds:g}"
               f"   # one rate, router")
    out.append(f"./scripts/load mixed --rate {held_rates.get('sippy', 100):g} --seconds "
               f"{args.seconds:g} --system sippy --warmup-seconds {args.warmup_seconds:g}")
    out.append("```")
    out.append("")
    out.append("What limits the rate and what would lift it: docs/capacity.md.")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="hold the best rate this long")
    parser.add_argument("--step-seconds", type=float, default=30.0, help="length of a step")
    parser.add_argument("--hold-ms", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--warmup-seconds", type=float, default=10.0,
                        help="uncounted warm-up before every run (0: cold starts)")
    parser.add_argument("--systems", default="router,kamailio-proxy,sippy")
    parser.add_argument("--chart", type=Path, default=None, metavar="PATH.svg",
                        help="draw the chart here (and save its data to PATH.json)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results: dict[str, tuple[list[RunResult], RunResult | None]] = {}
    with tempfile.TemporaryDirectory(prefix="e911-bench-load-") as tmp:
        for system in args.systems.split(","):
            try:
                results[system] = search(system, args, Path(tmp))
            except loadlib.LoadError as exc:
                # One system that cannot run must not cost the others' figures.
                print(f"[bench load] {system}: not measured: {exc}", file=sys.stderr)
                args.not_measured = {**getattr(args, "not_measured", {}), system: str(exc)}
    sys.stdout.write(report(results, args, started))
    return 0


def report(results: dict[str, tuple[list[RunResult], RunResult | None]],
           args: argparse.Namespace, started: float) -> str:
    """The markdown section; with `args.chart`, the chart and its data written first."""
    link = None
    if args.chart is not None:
        chart = args.chart.resolve()
        bench_chart.write_chart(chart_points(results, args), chart, chart.with_suffix(".json"),
                                title=f"Load: mixed profile, {args.workers} workers, "
                                      f"{args.step_seconds:g} s steps")
        # The section lives in docs/benchmarks.md: link relative to it.
        link = os.path.relpath(chart, Path(__file__).resolve().parents[1] / "docs")
    return render(results, args, started, link)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
