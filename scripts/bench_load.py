"""Benchmark section "load" (./scripts/bench load): the highest mixed-profile rate held with zero
failed calls, for the router (warm and cold callers) and for two peers on the same machine in
the same run.

Mixed profile, per 1,000 calls: 99 x 911 from located callers, 800 ordinary calls from located
callers, 101 ordinary calls from unlocated callers (answered 403 at once). The router runs it
twice, on the same rate steps:
  warm: the callers of sipp-scenarios/load/callers-*.csv (1,000 located users, cycled), so the
        front's route cache answers most located ordinary calls;
  cold: every call from a caller new to the run (sipp-scenarios/load/cold_callers.py; the
        users bulk-seeded before the router starts, the seeding timed), so every located
        ordinary call is decided by a worker.
The peers know no location and keep no cache: they run the warm traffic only.

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
import dataclasses
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


PROFILES = {"warm": "mixed", "cold": loadlib.COLD}
"""Router profile labels -> loadlib profiles."""

Results = dict[str, tuple[list[RunResult], RunResult | None]]
"""Label ("router (warm)", "router (cold)", "kamailio-proxy", "sippy") -> (steps, held)."""


def label_of(system: str, profile: str) -> str:
    return f"{system} ({profile})" if system == "router" else system


def _run(system: str, profile: str, rate: float, seconds: float, args: argparse.Namespace,
         root: Path, tag: str) -> RunResult:
    workdir = root / f"{system}-{profile}-{tag}-{rate:g}"
    extra = dict(item.split("=", 1) for item in getattr(args, "set", []))
    result = loadlib.run_once(system, PROFILES[profile], rate=rate, seconds=seconds,
                              hold_ms=args.hold_ms, workers=args.workers, workdir=workdir,
                              tag=tag, warmup_seconds=args.warmup_seconds,
                              extra_env=extra if system == "router" else None)
    seeded = f" ({result.seeding.line()})" if result.seeding is not None else ""
    print(f"[bench load] {label_of(system, profile)} {rate:g}/s {seconds:g}s -> "
          f"{'ok' if result.ok else f'{result.failed} failed'}{seeded}", file=sys.stderr)
    return result


def steps_of(system: str, args: argparse.Namespace) -> tuple[float, ...]:
    for item in args.steps:
        name, _, rates = item.partition("=")
        if name == system:
            return tuple(float(r) for r in rates.split(",") if r)
    return tuple(float(r) for r in DEFAULT_STEPS[system])


def search(system: str, args: argparse.Namespace, root: Path, profile: str = "warm"
           ) -> tuple[list[RunResult], RunResult | None]:
    """Steps up until one fails; then the best passing rate held `args.seconds` (unless
    `args.no_hold`)."""
    steps: list[RunResult] = []
    best = 0.0
    for step_rate in steps_of(system, args):
        result = _run(system, profile, step_rate, args.step_seconds, args, root, "step")
        steps.append(result)
        if not result.ok:
            break
        best = float(step_rate)
    held: RunResult | None = None
    rate = best
    while rate > 0 and not args.no_hold:
        held = _run(system, profile, rate, args.seconds, args, root, "hold")
        if held.ok:
            return steps, held
        steps.append(held)
        rate = float(math.floor(rate * 0.8))
        held = None
    return steps, held


def _fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def _class_table(result: RunResult) -> list[str]:
    decided = result.worker_decided
    lines = ["| class | calls | failed | setup p50 (ms) | setup p99 (ms) | max (ms) |"
             + (" decided by a worker |" if decided else ""),
             "|---|---|---|---|---|---|" + ("---|" if decided else "")]
    for c in result.classes:
        lines.append(f"| {c.name} | {c.offered} | {c.offered - c.successful} | "
                     f"{_fmt(c.setup_p50_ms)} | {_fmt(c.setup_p99_ms)} | "
                     f"{_fmt(c.setup_max_ms)} |"
                     + (f" {decided.get(c.name, 0)} |" if decided else ""))
    return lines


def _usage_table(result: RunResult) -> list[str]:
    usage = result.usage
    per_call = result.cpu_ms_per_call()
    lines = ["| process | CPU (share of one core) | CPU ms per call | peak RSS (MB) |",
             "|---|---|---|---|"]
    for name in sorted(usage.cpu_core_share):
        cost = f"{per_call[name]:.3f}" if name in per_call else "-"
        lines.append(f"| {name} | {usage.cpu_core_share[name]:.2f} | {cost} | "
                     f"{usage.rss_peak_mb.get(name, 0.0):.0f} |")
    lines.append(f"| *machine (all processes)* | {usage.machine_busy_share:.2f} of "
                 f"{os.cpu_count()} cores | | |")
    lines.append(f"| *other engineers' processes* | {usage.others_core_share:.2f} | | |")
    return lines


def _setup(result: RunResult) -> str:
    """p50/p99 setup ms per class, 911 / normal / unlocated."""
    return " · ".join(f"{_fmt(c.setup_p50_ms)}/{_fmt(c.setup_p99_ms)}" for c in result.classes)


def side_by_side(results: Results) -> list[str]:
    """The router's warm and cold runs on the same rate steps, one row per rate (a step's
    figures; a hold's when the rate was also held)."""
    warm = results.get(label_of("router", "warm"))
    cold = results.get(label_of("router", "cold"))
    if warm is None or cold is None:
        return []

    def by_rate(runs: tuple[list[RunResult], RunResult | None]) -> dict[float, RunResult]:
        steps, _ = runs
        return {r.rate: r for r in steps if r.seconds == steps[0].seconds} if steps else {}

    w, c = by_rate(warm), by_rate(cold)
    lines = ["| rate (calls/s) | warm: failed | warm: setup p50/p99 ms (911 · normal · "
             "unlocated) | warm: CPU ms/call, kamailio + workers | cold: failed | cold: setup "
             "p50/p99 ms (911 · normal · unlocated) | cold: CPU ms/call, kamailio + workers |",
             "|---|---|---|---|---|---|---|"]

    def cells(run: RunResult | None) -> str:
        if run is None:
            return "not run | | "
        cost = sum(v for k, v in run.cpu_ms_per_call().items()
                   if k == "kamailio" or k.startswith("worker"))
        return f"{run.failed} | {_setup(run)} | {cost:.2f}"

    for rate in sorted(set(w) | set(c)):
        lines.append(f"| {rate:g} | {cells(w.get(rate))} | {cells(c.get(rate))} |")
    return lines


def cpu_per_call_table(results: Results) -> list[str]:
    """CPU ms per call per process (SIPp excluded), the router's held warm and cold runs."""
    held = {name: runs[1] for name, runs in results.items()
            if name.startswith("router") and runs[1] is not None}
    if not held:
        return []
    names = sorted({k for r in held.values() for k in r.cpu_ms_per_call()})
    lines = ["| process | " + " | ".join(f"{label} at {r.rate:g}/s" for label, r in held.items())
             + " |", "|---|" + "---|" * len(held)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(
            f"{r.cpu_ms_per_call().get(name, 0.0):.3f}" for r in held.values()) + " |")
    return lines


def chart_points(results: Results, args: argparse.Namespace) -> list[bench_chart.Point]:
    """Every run measured, in order: the steps, then the hold that passed. A hold that failed
    is in `steps` (see `search`): it is told apart by its length. Each series is named by its
    label ("router (cold)")."""
    points = []
    for label, (steps, held) in results.items():
        for step in steps:
            long_run = step.seconds == args.seconds and args.seconds != args.step_seconds
            points.append(bench_chart.point_of(dataclasses.replace(step, system=label),
                                               held=long_run))
        if held is not None:
            points.append(bench_chart.point_of(dataclasses.replace(held, system=label),
                                               held=True))
    return points


def render(results: Results, args: argparse.Namespace, started: float,
           chart: str | None = None) -> str:
    out = ["## Load: mixed profile through the front, warm and cold callers, against two peers",
           ""]
    seeding = max((r.seeding for steps, held in results.values()
                   for r in [*steps, *([held] if held else [])] if r.seeding is not None),
                  key=lambda x: x.located + x.unlocated, default=None)
    out.append(
        f"Mixed profile (`sipp-scenarios/load/`), per 1,000 calls: 99 x 911 from located "
        f"callers, 800 ordinary calls from located callers, 101 ordinary calls from unlocated "
        f"callers (403 + Reason: after the prompt while a worker has an announcement slot "
        f"free, at once beyond); answered calls held {args.hold_ms} ms. Router: "
        f"`e911-router run` with Kamailio in front of {args.workers} workers, "
        f"`E911_ANNOUNCE_OVERFLOW=reject`"
        + "".join(f", `{item}`" for item in getattr(args, "set", []))
        + ", other settings default (route cache on, 60 s, unless set here). "
        "**Warm**: the callers of `callers-*.csv` (1,000 located users, cycled), so the "
        "front's route cache answers most located ordinary calls. **Cold**: every call of "
        "the run from a caller the router has not seen in it "
        "(`sipp-scenarios/load/cold_callers.py`), so every located ordinary call is a cache "
        "miss decided by a worker; its users (rate x seconds + 1%) are bulk-seeded before the "
        "router starts (`tests/support/bulk_seed.py`"
        + (f"; the largest: {seeding.located + seeding.unlocated:,} users in "
           f"{seeding.seconds:.1f} s" if seeding is not None else "")
        + f"). A step is {args.step_seconds:g} s; the rate reported is the best step held "
        f"again for {args.seconds:g} s with zero failed calls and exact per-trunk counts (for "
        f"the router also: every answered 911 at the PSAP trunk with a schema-valid PIDF-LO "
        f"and the caller's callback number). CPU ms per call: CPU seconds (user + system, "
        f"`/proc/<pid>/stat`) each process used from the callers' start to their end, over "
        f"the calls offered; SIPp excluded. "
        + (f"Every run (step or hold, every system) starts after a {args.warmup_seconds:g} s "
           f"warm-up of the warm profile's located ordinary calls at a quarter of its rate, "
           f"not counted (`loadlib.warm_up`): its callers are never the cold run's. "
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
    table = side_by_side(results)
    if table:
        out += ["### Router: warm and cold callers, same steps", "", *table, ""]
    costs = cpu_per_call_table(results)
    if costs:
        out += ["CPU ms per call per process (SIPp excluded), the held runs:", "", *costs, ""]
    held_rates: dict[str, float] = {}
    for label, (steps, held) in results.items():
        out.append(f"### {label}")
        out.append("")
        out.append("| step | rate (calls/s) | seconds | failed | verdict |")
        out.append("|---|---|---|---|---|")
        for index, step in enumerate(steps, 1):
            out.append(f"| {index} | {step.rate:g} | {step.seconds:g} | {step.failed} | "
                       f"{'ok' if step.ok else 'failed'} |")
        out.append("")
        if held is None:
            out.append("_No rate held with zero failures._"
                       if not getattr(args, "no_hold", False) else
                       "_Steps only (`--no-hold`)._")
            out.append("")
            if steps:
                out.append(f"Last step ({steps[-1].rate:g} calls/s):")
                out.append("")
                out += _class_table(steps[-1])
                out.append("")
                out += _usage_table(steps[-1])
                out.append("")
            continue
        held_rates[label] = held.rate
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
    routers = [label for label in held_rates if label.startswith("router")]
    if routers:
        out.append("### Ratios")
        out.append("")
        for router in routers:
            for peer in ("kamailio-proxy", "sippy"):
                if peer in held_rates:
                    out.append(f"- {router} / {peer}: "
                               f"{held_rates[router] / held_rates[peer]:.2f} "
                               f"({held_rates[router]:g} vs {held_rates[peer]:g} calls/s)")
        out.append("")
    out += rerun_lines(results, args, held_rates, chart)
    out.append("")
    out.append("What limits the rate and what would lift it: docs/capacity.md.")
    return "\n".join(out) + "\n"


def rerun_lines(results: Results, args: argparse.Namespace, held_rates: dict[str, float],
                chart: str | None) -> list[str]:
    """The commands to rerun the section, one rate, and the SIPp callers by hand."""
    out = ["Rerun:", "", "```"]
    out.append(f"./scripts/bench load        # python scripts/bench_load.py --seconds "
               f"{args.seconds:g} --step-seconds {args.step_seconds:g} --workers {args.workers}"
               f" --warmup-seconds {args.warmup_seconds:g}"
               + "".join(f" --set {item}" for item in getattr(args, "set", []))
               + (" --chart docs/benchmarks-load.svg" if chart is not None else ""))
    for profile, name in (("warm", "mixed"), ("cold", loadlib.COLD)):
        rate = held_rates.get(label_of("router", profile), 200)
        out.append(f"./scripts/load {name} --rate {rate:g} --seconds {args.seconds:g} "
                   f"--workers {args.workers} --warmup-seconds {args.warmup_seconds:g} "
                   + "".join(f"--set {item} " for item in getattr(args, "set", [])) +
                   f"--show-commands   # one rate, router, {profile} callers")
    out.append(f"./scripts/load mixed --rate {held_rates.get('sippy', 100):g} --seconds "
               f"{args.seconds:g} --system sippy --warmup-seconds {args.warmup_seconds:g}")
    out.append("```")
    out.append("")
    for label in (label_of("router", "cold"), label_of("router", "warm")):
        steps, held = results.get(label, ([], None))
        run = held or (steps[-1] if steps else None)
        if run is None or not run.commands:
            continue
        out.append(f"SIPp callers of {label} at {run.rate:g} calls/s for {run.seconds:g} s "
                   f"(`$PORT`: the front's SIP port, `E911_SIP_LISTEN`; `$RUN`: a directory; "
                   f"the three trunks and the router as `scripts/loadlib.py` starts them"
                   + ("; the cold CSVs: `python3 sipp-scenarios/load/cold_callers.py --rate "
                      f"{run.rate:g} --seconds {run.seconds:g} --out $RUN`, users seeded as "
                      "`loadlib.seed_cold_users` does" if "cold" in label else "")
                   + "):")
        out.append("")
        out.append("```")
        out += run.commands
        out.append("```")
        out.append("")
    return out


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="hold the best rate this long")
    parser.add_argument("--step-seconds", type=float, default=30.0, help="length of a step")
    parser.add_argument("--hold-ms", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--warmup-seconds", type=float, default=10.0,
                        help="uncounted warm-up before every run (0: cold starts)")
    parser.add_argument("--systems", default="router,kamailio-proxy,sippy")
    parser.add_argument("--profiles", default="warm,cold",
                        help="the router's callers: warm (cycled), cold (each new), or both")
    parser.add_argument("--steps", action="append", default=[], metavar="SYSTEM=R1,R2,...",
                        help="rate steps of a system instead of its defaults (repeatable; the "
                             "router's apply to warm and cold alike)")
    parser.add_argument("--set", action="append", default=[], metavar="E911_NAME=VALUE",
                        help="extra router setting for every router run (repeatable; said in "
                             "the report)")
    parser.add_argument("--no-hold", action="store_true",
                        help="steps only: do not hold the best rate for --seconds")
    parser.add_argument("--chart", type=Path, default=None, metavar="PATH.svg",
                        help="draw the chart here (and save its data to PATH.json)")
    args = parser.parse_args(argv)
    profiles = [p for p in args.profiles.split(",") if p]
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown:
        parser.error(f"unknown profile(s) {', '.join(unknown)}: warm, cold")
    started = time.monotonic()
    results: Results = {}
    with tempfile.TemporaryDirectory(prefix="e911-bench-load-") as tmp:
        for system in args.systems.split(","):
            for profile in profiles if system == "router" else ["warm"]:
                label = label_of(system, profile)
                try:
                    results[label] = search(system, args, Path(tmp), profile)
                except loadlib.LoadError as exc:
                    # One system that cannot run must not cost the others' figures.
                    print(f"[bench load] {label}: not measured: {exc}", file=sys.stderr)
                    args.not_measured = {**getattr(args, "not_measured", {}), label: str(exc)}
    sys.stdout.write(report(results, args, started))
    return 0


def report(results: Results, args: argparse.Namespace, started: float) -> str:
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
