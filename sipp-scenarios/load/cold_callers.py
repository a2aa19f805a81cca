#!/usr/bin/env python3
"""The cold mixed profile's callers: no caller repeats within a run (issue 19).

The mixed profile of `callers-*.csv` cycles through 1,000 located users, so after a few seconds
the front's route cache (key `From user|P-Asserted-Identity|device IP`, docs/kamailio.md)
answers almost every ordinary call. Here every call of a run has a From user of its own, so
each one is a user the router has not seen in the run: every located ordinary call is a cache
miss and is decided by a worker.

Per 1,000 calls (the issue's proportions): 99 x 911 from located callers, 800 ordinary calls
from located callers, 101 ordinary calls from unlocated callers (answered 403 at once). The
callers come from 127.0.0.1 (SIPp), where every located cold user is bound, as the warm
profile's users 5000-5999 are; no device-IP header is needed.

Users (decimal SIP users, never overlapping the warm profile's 5000-7099):
  located    COLD_LOCATED_BASE + i    (i from 0): the 911 callers first, then the ordinary
  unlocated  COLD_UNLOCATED_BASE + i  (a user with no address)
Each located cold user has a callback number of its own (`cold_callback`), checked at the PSAP.

This file is stdlib only; scripts/loadlib.py imports it (the run seeds the same users with
tests/support/bulk_seed.py and writes the CSVs into its run directory). To make the CSVs by
hand, for a rerun of the printed SIPp command lines:

    python3 sipp-scenarios/load/cold_callers.py --rate 1000 --seconds 90 --out /tmp/cold

writes callers-cold-911.csv, callers-cold-normal.csv, callers-cold-unlocated.csv there (about
2 MB for 90,000 calls) and prints how many users the store needs.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

COLD_LOCATED_BASE = 1_000_000
COLD_UNLOCATED_BASE = 3_000_000
MAX_CALLS = 2_000_000
"""Users a class may take before the numbering ranges would meet."""
SHARES = (("emergency", 99), ("normal", 800), ("unlocated", 101))
"""Calls per 1,000 of each class (the issue's mixed profile)."""
CSV_NAMES = {name: f"callers-cold-{'911' if name == 'emergency' else name}.csv"
             for name, _ in SHARES}


def cold_callback(user: int) -> str:
    """A located cold user's own callback number: +1 406 7xx xxxx (E.164, NANP)."""
    return f"+1406{7_000_000 + (user - COLD_LOCATED_BASE) % 3_000_000:07d}"


def dialled(index: int) -> str:
    """An ordinary call's number: spread over 10,000 numbers of 406-555."""
    return f"406555{(index * 7919) % 10_000:04d}"


@dataclass(frozen=True, slots=True)
class ColdPlan:
    """How many calls of each class a run places, and so which users it needs."""

    emergency: int
    normal: int
    unlocated: int

    @classmethod
    def for_run(cls, rate: float, seconds: float) -> ColdPlan:
        """Rows (and users) for the calls SIPp will place, per class max(1, round(rate x
        share x seconds)) (the count scripts/loadlib.py gives each caller's `-m`), plus 1% and
        10 spare, so a SEQUENTIAL CSV never wraps round to a caller already seen."""
        counts = {}
        for name, per_1000 in SHARES:
            calls = max(1, round(rate * per_1000 / 1000 * seconds))
            counts[name] = calls + calls // 100 + 10
        plan = cls(**counts)
        if max(counts.values()) > MAX_CALLS:
            raise ValueError(f"{plan}: more than {MAX_CALLS} calls in a class")
        return plan

    def located_users(self) -> range:
        """The located cold users: the 911 callers, then the ordinary ones."""
        return range(COLD_LOCATED_BASE, COLD_LOCATED_BASE + self.emergency + self.normal)

    def unlocated_users(self) -> range:
        return range(COLD_UNLOCATED_BASE, COLD_UNLOCATED_BASE + self.unlocated)

    def emergency_callers(self) -> range:
        return range(COLD_LOCATED_BASE, COLD_LOCATED_BASE + self.emergency)

    def rows(self, name: str) -> list[str]:
        """One CSV row per call of class `name` (`caller;dialled`), each caller once."""
        if name == "emergency":
            return [f"{user};911" for user in self.emergency_callers()]
        if name == "normal":
            first = COLD_LOCATED_BASE + self.emergency
            return [f"{first + i};{dialled(i)}" for i in range(self.normal)]
        if name == "unlocated":
            return [f"{COLD_UNLOCATED_BASE + i};{dialled(i)}" for i in range(self.unlocated)]
        raise ValueError(f"unknown call class {name!r}")

    def write(self, directory: Path) -> dict[str, Path]:
        """The three injection CSVs (SEQUENTIAL: SIPp takes row n for call n) -> their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        written = {}
        for name, _ in SHARES:
            path = directory / CSV_NAMES[name]
            path.write_text("SEQUENTIAL\n" + "".join(r + "\n" for r in self.rows(name)))
            written[name] = path
        return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, required=True, help="calls a second, all classes")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory for the CSVs")
    args = parser.parse_args(argv)
    plan = ColdPlan.for_run(args.rate, args.seconds)
    for name, path in plan.write(args.out).items():
        print(f"{name}: {path} ({getattr(plan, name)} rows: the calls and 1% + 10 spare)")
    located, unlocated = plan.located_users(), plan.unlocated_users()
    print(f"store: located users {located.start}-{located.stop - 1} bound to 127.0.0.1, "
          f"unlocated users {unlocated.start}-{unlocated.stop - 1} (no address)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
