"""End-to-end observability: `e911-router run` (the supervisor, two workers, no front) against
SIPp trunks that also answer OPTIONS probes, with the scenario suite's seeded store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.scenarios.conftest import store_url
from tests.scenarios.harness import PROMPTS, Uas, WorkerProcess, free_port, start_uas, wait_until

__all__ = ["store_url"]


def free_port_pair() -> int:
    """A port p such that p and p + 1 are free (two workers without a front)."""
    while True:
        port = free_port()
        if port < 65535 and free_port_is(port + 1):
            return port


def free_port_is(port: int) -> bool:
    import socket

    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


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


@pytest.fixture
def router(store_url: str, tmp_path: Path) -> Iterator[Router]:
    trunks = {name: start_uas("uas-psap-answer-options-200", tmp_path)
              for name in ("psap", "sorting", "test")}
    sip_port = free_port_pair()
    metrics_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("E911_", "PROMETHEUS_"))}
    env.update({
        "E911_DATABASE_URL": store_url,
        "E911_FRONT": "none",
        "E911_WORKERS": "2",
        "E911_SIP_LISTEN": f"127.0.0.1:{sip_port}",
        "E911_TRUSTED_PEERS": "127.0.0.1/32",
        "E911_PBX_PEERS": "127.0.0.1/32",
        "E911_PROMPTS_DIR": str(PROMPTS),
        "E911_TRUNK_TIMEOUT_SECONDS": "1",
        "E911_TRUNK_PSAP": trunks["psap"].uri,
        "E911_TRUNK_SORTING_CENTER": trunks["sorting"].uri,
        "E911_TRUNK_TEST": trunks["test"].uri,
        "E911_TRUNK_OUTBOUND": "sip:127.0.0.1:9",
        "E911_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
        "E911_API_LISTEN": f"127.0.0.1:{free_port()}",
        "E911_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "E911_LOG_FORMAT": "json",
    })
    proc = subprocess.Popen(
        [sys.executable, "-m", "router", "run", "--trunk-probe-seconds", "1"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    log = WorkerProcess(proc, sip_port)
    threading.Thread(target=log._read, daemon=True).start()
    running = Router(log, sip_port, metrics_port, tmp_path, trunks, env)
    try:
        log.wait_event("e911.supervisor.ready", timeout=60)
        wait_until(lambda: len(running.series("e911_trunk_up")) == 4, 15,
                   "every trunk probed once")
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for uas in trunks.values():
            uas.stop()
