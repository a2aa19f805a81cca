"""`e911-router api` as a child process, returned once uvicorn serves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def start_api(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """`e911-router api` with `env` as its whole environment, returned once uvicorn serves,
    with the lines written so far (stderr and stdout in one pipe: `process.stdout`)."""
    process = subprocess.Popen([sys.executable, "-m", "router", "api"], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    seen: list[str] = []
    for line in process.stdout:
        seen.append(line)
        if "Uvicorn running on" in line:
            return process, seen
    process.wait(timeout=15)
    raise AssertionError("the API did not start:\n" + "".join(seen))
