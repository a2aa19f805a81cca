#!/usr/bin/env python3
"""Mass event (issue 10): 500 distinct located callers dial 911 within 60 s, each call held
120 s, on one host through Kamailio + workers (E911_EMERGENCY_PATH=auto: one bridge a worker,
every other 911 handed to the front in a 302 that Kamailio turns into the emergency INVITE
with the caller's PIDF-LO). Prints markdown.

Counted at the PSAP (a SIPp UAS logging every INVITE): INVITEs that pass the RFC 6442 /
PIDF-LO schema checks of tests/support/pidf_check.py with the caller's own address and callback
number; failures (SIPp's failed calls); setup p50/p99 (INVITE -> 200 at the caller, SIPp rtd).

    .venv/bin/python scripts/bench_mass_event.py [--callers 500] [--window 60] [--hold 120]
                                                 [--workers 2] [--path auto]

Bounded: `--callers` calls, window + hold + 90 s at most, loopback only (127.0.0.1, the PBX
peer 127.0.0.2).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.mass_event import run_mass_event


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=500)
    parser.add_argument("--window", type=float, default=60.0, help="seconds to place all calls")
    parser.add_argument("--hold", type=float, default=120.0, help="seconds each call is held")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--path", choices=("auto", "front", "bridge"), default="auto")
    args = parser.parse_args(argv)
    if not 1 <= args.callers <= 2000 or args.window > 600 or args.hold > 600:
        parser.error("bounded: 1-2000 callers, window and hold at most 600 s")
    with tempfile.TemporaryDirectory(prefix="e911-mass-") as tmp:
        r = run_mass_event(Path(tmp), count=args.callers, window_seconds=args.window,
                           hold_seconds=args.hold, workers=args.workers, path=args.path)
    ok = r.failed == 0 and r.valid_pidf == r.callers and r.sipp_exit == 0
    print("### Mass event: hundreds of 911 calls at once, every one with its PIDF-LO\n")
    print(f"{r.callers} distinct located callers behind a PBX dial 911 within "
          f"{r.window_seconds:g} s, each call held {r.hold_seconds:g} s; Kamailio + "
          f"{r.workers} workers (E911_EMERGENCY_PATH={args.path}) on one host, SIPp caller and "
          "PSAP on loopback.\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| calls placed | {r.callers} |")
    print(f"| answered (SIPp successful) | {r.successful} |")
    print(f"| failed | {r.failed} |")
    print(f"| INVITEs at the PSAP | {r.psap_invites} |")
    print(f"| with a valid PIDF-LO naming the caller's own address | {r.valid_pidf} "
          f"({100 * r.valid_pidf / r.callers:.1f} %) |")
    print(f"| at the sorting center | {r.sorting_center_invites} |")
    print(f"| carried by the front (worker 302 -> Kamailio) | {r.via_front} |")
    print(f"| carried by a worker bridge | {r.via_bridge} |")
    print(f"| malformed 302s | {r.malformed} |")
    print(f"| setup p50 / p99 (INVITE -> 200) | {r.p50:.1f} ms / {r.percentile(0.99):.1f} ms |")
    print(f"| setup max | {max(r.setup_ms, default=0.0):.1f} ms |")
    print(f"| Kamailio CPU (all its processes) | {r.kamailio_cpu_seconds:.2f} s, "
          f"{1000 * r.kamailio_cpu_seconds / max(r.callers, 1):.2f} ms a call |")
    print(f"| run time | {r.elapsed_seconds:.0f} s |")
    if r.problems:
        print("\nFirst problems: " + "; ".join(r.problems))
    print(f"\nResult: {'PASS' if ok else 'FAIL'} (0 failures and 100 % valid PIDF-LO wanted).")
    print("\n    .venv/bin/python scripts/bench_mass_event.py "
          f"--callers {r.callers} --window {r.window_seconds:g} --hold {r.hold_seconds:g} "
          f"--workers {r.workers} --path {args.path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
