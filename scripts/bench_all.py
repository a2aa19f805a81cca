"""Run the benchmark sections and rewrite docs/benchmarks.md (called by ./scripts/bench).

Each section is a script printing markdown on stdout. A section not selected keeps the text it
had in the previous docs/benchmarks.md, so one section can be rerun alone.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
PY = sys.executable

# name -> command (run from the repository root)
SECTIONS: dict[str, list[str]] = {
    "validation": [PY, "scripts/bench_validation.py"],
    "lookup": [PY, "scripts/bench_lookup.py"],
    "sip": [PY, "scripts/bench_sip.py"],
    "notify": [PY, "scripts/bench_notify.py"],
    "mass_event": [PY, "scripts/bench_mass_event.py"],
    # --chart: calls/s against failures and setup p99, drawn from the runs it measures
    # (docs/benchmarks-load.json beside it; redraw alone: scripts/bench_chart.py).
    "load": [PY, "scripts/bench_load.py", "--chart", "docs/benchmarks-load.svg"],
    # Issue 16: announcements played by the front (Kamailio + rtpengine), 100 new/s for 30 s.
    "announce": [PY, "scripts/bench_announce.py", "--rate", "100", "--seconds", "30",
                 "--mixed-rate", "500", "--mixed-seconds", "90"],
}

BEGIN = "<!-- section:{name} -->"
END = "<!-- /section:{name} -->"


def _previous() -> dict[str, str]:
    if not DOC.exists():
        return {}
    text = DOC.read_text()
    found = {}
    for name in SECTIONS:
        match = re.search(re.escape(BEGIN.format(name=name)) + r"\n(.*?)"
                          + re.escape(END.format(name=name)), text, re.S)
        if match:
            found[name] = match.group(1)
    return found


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def main(argv: list[str]) -> int:
    chosen = argv or list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        print(f"error: unknown section(s) {', '.join(unknown)}; choose from "
              f"{', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    sections: dict[str, str] = {}
    failed = []
    for name in chosen:
        script = ROOT / SECTIONS[name][1]
        if not script.exists():
            sections[name] = f"_Not measured yet: {SECTIONS[name][1]} does not exist._\n"
            continue
        print(f"[bench] {name}: {' '.join(SECTIONS[name][1:])}", file=sys.stderr)
        proc = subprocess.run(SECTIONS[name], cwd=ROOT, capture_output=True, text=True,
                              timeout=3600)
        if proc.returncode != 0:
            failed.append(name)
            sys.stderr.write(proc.stderr[-4000:])
            sections[name] = f"_Last run failed (exit {proc.returncode}); see stderr._\n"
        else:
            sections[name] = proc.stdout if proc.stdout.endswith("\n") else proc.stdout + "\n"
    # Re-read the file now, not at the start: a section can take most of an hour, and other
    # sections may have been rewritten (and committed) meanwhile.
    sections = {**_previous(), **sections}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "unknown"
    parts = [
        "# Benchmarks\n",
        "Written by `./scripts/bench` (rerun one section: `./scripts/bench validation`).",
        f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit `{commit}`, "
        f"{_machine()}. Loopback only.\n",
    ]
    for name in SECTIONS:
        body = sections.get(name, "_Not measured yet._\n")
        parts.append(f"{BEGIN.format(name=name)}\n{body}{END.format(name=name)}\n")
    DOC.write_text("\n".join(parts))
    print(f"[bench] wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
