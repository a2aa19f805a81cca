"""A running `e911-router run` (the supervisor, two workers, no front): its metrics, its status
and another `e911-router` command with its settings."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.sipp import Uas
from tests.support.worker import WorkerProcess


@dataclass
class Router:
    """A running `e911-router run`; `log` collects every child's JSON lines (shared stderr)."""

    log: WorkerProcess
    sip_port: int
    metrics_port: int
    workdir: Path
    trunks: dict[str, Uas]
    env: dict[str, str]

    @property
    def worker_ports(self) -> tuple[int, int]:
        return self.sip_port, self.sip_port + 1

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        found = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return found

    def series(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {labels: value for (n, labels), value in self.scrape().items() if n == name}

    def status_json(self) -> dict[str, object]:
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/status.json", timeout=5) as response:
            data: dict[str, object] = json.loads(response.read())
        return data

    def e911_router(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another `e911-router` command with the router's settings (as an operator runs it)."""
        return subprocess.run([sys.executable, "-m", "router", *args], cwd=self.workdir,
                              env=self.env, capture_output=True, text=True, timeout=60)
