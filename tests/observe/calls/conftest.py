"""End-to-end observability: `e911-router run` (the supervisor, two workers, no front) against
SIPp trunks that also answer OPTIONS probes, with the scenario suite's seeded store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.observe.calls.supervised import Router
from tests.support.paths import PROMPTS
from tests.support.ports import free_port, free_port_block
from tests.support.processes import wait_until
from tests.support.seeded_store import store_url
from tests.support.sipp import start_uas
from tests.support.worker import WorkerProcess

__all__ = ["store_url"]


@pytest.fixture
def router(store_url: str, tmp_path: Path) -> Iterator[Router]:
    trunks = {name: start_uas("uas-psap-answer-options-200", tmp_path)
              for name in ("psap", "sorting", "test")}
    sip_port = free_port_block(2)  # two workers without a front: p and p + 1
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
