"""Process control for tests and benches: wait for a condition (a log line, a bound port, a
file), never a blind sleep; stop a child politely, then for good."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stop_process(proc: subprocess.Popen[str] | subprocess.Popen[bytes], timeout: float,
                 signum: int = signal.SIGTERM) -> int:
    """Send `signum` (SIGTERM) to a running child, wait `timeout` s, then kill it; returns its
    exit status."""
    if proc.poll() is None:
        proc.send_signal(signum)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
