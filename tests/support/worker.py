"""A real worker (`python -m router worker`) on loopback, its JSON log events collected as they
come: wait for an event, count events, wait for an idle worker; `worker_factory`, the fixture
that starts workers on the seeded store (`store_url`) and stops them afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.paths import PROMPTS, REPO
from tests.support.ports import free_port
from tests.support.processes import stop_process, wait_until


@dataclass
class WorkerProcess:
    """A worker subprocess whose JSON log lines (stderr) are collected as they come."""

    proc: subprocess.Popen[str]
    port: int
    events: list[dict[str, object]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    """stderr lines that are not JSON events (tracebacks, pjsua2 start-up lines)."""
    _lines: queue.Queue[dict[str, object]] = field(default_factory=queue.Queue)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            line = line.strip()
            if not line.startswith("{"):
                self.raw.append(line)
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self._lock:
                self.events.append(event)
            self._lines.put(event)

    def wait_event(self, name: str, timeout: float = 10.0,
                   where: Callable[[dict[str, object]], bool] = lambda e: True,
                   after: int = 0) -> dict[str, object]:
        """The first event `name` (from index `after`) matching `where`; waits for it."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                for event in self.events[after:]:
                    if event.get("event") == name and where(event):
                        return event
            if self.proc.poll() is not None:
                tail = "\n".join(self.raw[-15:])
                raise AssertionError(
                    f"worker exited ({self.proc.returncode}) before {name}:\n{tail}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {name} event within {timeout} s")
            with contextlib.suppress(queue.Empty):
                self._lines.get(timeout=min(remaining, 0.2))

    def count(self, name: str, where: Callable[[dict[str, object]], bool] = lambda e: True
              ) -> int:
        with self._lock:
            return sum(1 for e in self.events if e.get("event") == name and where(e))

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    def stop(self, timeout: float = 10.0) -> int:
        return stop_process(self.proc, timeout)


def start_worker(env: Mapping[str, str], port: int, cwd: Path = REPO) -> WorkerProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    full_env.update(env)
    full_env.setdefault("E911_LOG_FORMAT", "json")
    full_env["E911_SIP_LISTEN"] = f"127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "router", "worker"],
        cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )
    worker = WorkerProcess(proc, port)
    threading.Thread(target=worker._read, daemon=True).start()
    worker.wait_event("e911.worker.ready", timeout=20)
    return worker




def last_stats(worker: WorkerProcess) -> dict[str, object]:
    stats = [e for e in worker.events if e.get("event") == "e911.worker.stats"]
    return stats[-1] if stats else {}


def wait_idle(worker: WorkerProcess, timeout: float = 60) -> dict[str, object]:
    """Wait for a stats event that shows every slot free."""
    mark = worker.mark()

    def idle() -> bool:
        for event in worker.events[mark:]:
            if event.get("event") == "e911.worker.stats" and event.get("legs") == 0 and \
                    event.get("controllers") == 0 and event.get("held") == 0:
                return True
        return False

    wait_until(idle, timeout, "an idle worker (every slot free)", interval=0.2)
    return last_stats(worker)


WorkerFactory = Callable[..., WorkerProcess]


@pytest.fixture
def worker_factory(store_url: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start workers with E911_* overrides; every one is stopped (SIGTERM) afterwards."""
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        port = free_port()
        base = {
            "E911_DATABASE_URL": store_url,
            "E911_TRUSTED_PEERS": "127.0.0.1/32",
            "E911_PBX_PEERS": "127.0.0.1/32",
            "E911_PROMPTS_DIR": str(PROMPTS),
            "E911_TRUNK_TIMEOUT_SECONDS": "1",
            "E911_TRUNK_OUTBOUND": "sip:127.0.0.1:9",
            "E911_TRUNK_PSAP": "sip:127.0.0.1:9",
            "E911_TRUNK_SORTING_CENTER": "sip:127.0.0.1:9",
        }
        base.update(env)
        worker = start_worker(base, port)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
