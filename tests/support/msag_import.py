"""`e911-router msag import` run as an operator runs it, and the shipped sample extract."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO

SAMPLE = REPO / "config" / "msag" / "msag_sample_mt_30059.csv"
HEADER = SAMPLE.read_text(encoding="utf-8").splitlines()[0] + "\n"


@dataclass(frozen=True, slots=True)
class Done:
    code: int
    stdout: str
    stderr: str


def msag_import(store_url: str, *files: Path) -> Done:
    """Run `e911-router msag import FILE...` against `store_url` as an operator would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env.update({"E911_DATABASE_URL": store_url, "E911_LOG_FORMAT": "json"})
    done = subprocess.run([sys.executable, "-m", "router", "msag", "import",
                           *map(str, files)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    return Done(done.returncode, done.stdout, done.stderr)
