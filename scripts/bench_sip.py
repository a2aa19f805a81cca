"""One SIP worker under SIPp (a section of docs/benchmarks.md, called by ./scripts/bench).

Runs `scripts/sip-bench` three times: the INVITE rate a worker survives (redirects and 503s),
a 30 s flood with 911s inside, and a 10,000-call soak of every class; prints markdown with
the exact commands and every measurement line they emitted. Loopback only; every phase is
bounded in count and time by sip-bench itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PHASES = (
    ("rate", ["rate", "--rates", "300,600,1000", "--seconds", "10"]),
    ("flood", ["flood", "--rate", "1500", "--seconds", "30", "--emergency", "30"]),
    ("soak", ["soak", "--calls", "10000"]),
)


def _failures(result: dict[str, Any]) -> str:
    found = result.get("failures") or {}
    return ", ".join(f"{k.replace('SIP/2.0 ', '')} x{v}" for k, v in sorted(found.items())) or "-"


def summary(name: str, records: list[dict[str, Any]]) -> list[str]:
    """A table an on-call engineer can read, from one phase's JSON lines."""
    if name == "rate":
        rows = ["| kind | offered /s | achieved /s | calls | failed (answer seen) | worker alive |",
                "|---|---|---|---|---|---|"]
        rows += [f"| {r['kind']} | {r['rate']} | {r['achieved_rate']} | {r['calls']} | "
                 f"{int(r['failed'])} ({_failures(r)}) | {r['alive']} |"
                 for r in records if "kind" in r]
        return rows
    if name == "flood":
        rows = ["| caller | calls | answered as the scenario expects | other answers | "
                "rate /s |", "|---|---|---|---|---|"]
        for record in records:
            for key in ("redirect", "unlocated", "emergency"):
                if isinstance(record.get(key), dict):
                    r = record[key]
                    rows.append(f"| {key} | {r['calls']} | {int(r['successful'])} | "
                                f"{_failures(r)} | {r['achieved_rate']} |")
            if "emergency_invites_at_psap" in record:
                rows.append(f"| *911 INVITEs at the PSAP (bridged)* | "
                            f"{record['emergency_invites_at_psap']} | | | |")
                rows.append(f"| *worker alive after the flood* | {record['alive']} | | | |")
        return rows
    rows = ["| kind | calls | failed (answer seen) | rate /s | worker RSS after (MB) |",
            "|---|---|---|---|---|"]
    for r in records:
        if "kind" in r:
            rss = r.get("rss_kb")
            rows.append(f"| {r['kind']} | {r['calls']} | {int(r['failed'])} ({_failures(r)}) "
                        f"| {r['achieved_rate']} | {'' if rss is None else round(rss / 1024)} |")
        for edge in ("start", "end"):
            if isinstance(r.get(edge), dict):
                stats = r[edge]
                rows.append(f"| *{edge}: slots held {stats.get('held')}, legs "
                            f"{stats.get('legs')}, RSS {round(stats.get('rss_kb', 0) / 1024)} "
                            f"MB* | | | | |")
    return rows


def main() -> int:
    out = ["### One worker: INVITE rate, flood, soak", "",
           "Each phase starts its own worker (`python -m router worker`) with a seeded SQLite "
           "store and SIPp trunks on loopback, **no Kamailio in front**. The worker has 4 pjsua2 "
           "call slots; what the figures mean and the pjsua2 facts behind them are in "
           "[sip-worker.md](sip-worker.md) (\"Figures\"). \"Other answers\" "
           "are answers the SIPp scenario did not expect: for a lone worker a 911 answered "
           "302 went to the emergency route by redirect (a front or PBX follows it), a 183 "
           "means an announcement slot was free (the caller hears the prompt instead of a "
           "503), a 486 is pjsua2's own stateless refusal when all 4 slots are busy.", ""]
    worst = 0
    for name, args in PHASES:
        command = [sys.executable, "scripts/sip-bench", *args]
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800)
        worst = max(worst, proc.returncode)
        records = [json.loads(line) for line in proc.stdout.splitlines()
                   if line.startswith("{")]
        out += [f"#### {name} (exit {proc.returncode})", "",
                f"`.venv/bin/python scripts/sip-bench {' '.join(args)}`", ""]
        out += summary(name, records)
        out += ["", "<details><summary>every line it printed</summary>", "", "```json"]
        out += [json.dumps(r, sort_keys=True) for r in records]
        out += ["```", "", "</details>", ""]
    print("\n".join(out))
    return 0 if worst == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
