"""`e911-router notify sender` as a child process whose JSON log lines are collected."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support.paths import REPO
from tests.support.processes import stop_process

SENDER_FROM = "e911@router.example"


class SenderProcess:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.events: list[dict[str, object]] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    def wait_event(self, name: str, timeout: float = 20.0) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if event.get("event") == name:
                        return event
                if self.proc.poll() is not None:
                    raise AssertionError(f"sender exited ({self.proc.returncode}) before {name}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {name} within {timeout} s")
                self._changed.wait(min(left, 0.2))

    def kill(self) -> None:
        """SIGKILL by PID: no cleanup, no QUIT, no commit."""
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL

    def stop(self) -> None:
        stop_process(self.proc, 10)


def spawn_sender(database_url: str, smtp_url: str, workdir: Path, *,
                 poll_seconds: float = 0.1) -> SenderProcess:
    """Start a sender (fast retries) and wait until it says it runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env.update({"E911_DATABASE_URL": database_url, "E911_SMTP_URL": smtp_url,
                "E911_SMTP_FROM": SENDER_FROM, "E911_LOG_FORMAT": "json",
                "PYTHONPATH": str(REPO)})
    proc = subprocess.Popen(
        [sys.executable, "-m", "router", "notify", "sender", "--poll-seconds",
         str(poll_seconds), "--retry-first-seconds", "0.2",
         "--spool-dir", str(workdir / "spool")],
        cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )
    process = SenderProcess(proc)
    process.wait_event("e911.notify.sender_started")
    return process
