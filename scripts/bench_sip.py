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

REPO = Path(__file__).resolve().parents[1]
PHASES = (
    ("rate", ["rate", "--rates", "300,600,1000", "--seconds", "10"]),
    ("flood", ["flood", "--rate", "1500", "--seconds", "30", "--emergency", "30"]),
    ("soak", ["soak", "--calls", "10000"]),
)


def main() -> int:
    out = ["### One worker: INVITE rate, flood, soak", "",
           "Each phase starts its own worker (`python -m router worker`) with a seeded SQLite "
           "store and SIPp trunks on loopback. The worker has 4 pjsua2 call slots; what the "
           "figures mean and the pjsua2 facts behind them are in "
           "[sip-worker.md](sip-worker.md).", ""]
    worst = 0
    for name, args in PHASES:
        command = [sys.executable, "scripts/sip-bench", *args]
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800)
        worst = max(worst, proc.returncode)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        out += [f"#### {name} (exit {proc.returncode})", "",
                f"`.venv/bin/python scripts/sip-bench {' '.join(args)}`", "", "```json"]
        out += [json.dumps(json.loads(line), sort_keys=True) for line in lines]
        out += ["```", ""]
    print("\n".join(out))
    return 0 if worst == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
