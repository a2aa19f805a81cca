"""Drive a real worker (`python -m router worker`) and real SIPp on loopback.

Every port is found free at run time; every wait is for an event (a log line, a bound port, a
file that appears, a process that exits), never a blind sleep.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "sipp-scenarios"
PROMPTS = REPO / "config" / "prompts"
SIPP = shutil.which("sipp") or "sipp"


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for UDP and TCP on `host` right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
            return port


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def udp_port_taken(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


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
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


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


@dataclass
class Uas:
    """A SIPp UAS trunk on its own port, logging every INVITE it receives to `log_file`."""

    proc: subprocess.Popen[bytes]
    port: int
    log_file: Path

    @property
    def uri(self) -> str:
        return f"sip:127.0.0.1:{self.port}"

    def invites(self) -> list[str]:
        if not self.log_file.exists():
            return []
        text = self.log_file.read_bytes().decode("utf-8", errors="replace")
        return [m for m in _split_logged(text) if m.startswith("INVITE ")]

    def wait_invites(self, count: int, timeout: float = 10.0) -> list[str]:
        wait_until(lambda: len(self.invites()) >= count, timeout,
                   f"{count} INVITE(s) at UAS :{self.port}")
        return self.invites()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _split_logged(text: str) -> list[str]:
    """SIPp's `<log>` writes each message as received (CRLF line ends) plus one LF."""
    chunks = re.split(r"\n(?=(?:[A-Z]+ \S+ SIP/2\.0|SIP/2\.0 \d{3} )[^\n]*\r\n)", text)
    messages = []
    for chunk in chunks:
        if chunk.endswith("\n") and not chunk.endswith("\r\n"):
            chunk = chunk[:-1]
        if chunk.strip():
            messages.append(chunk)
    return messages


def start_uas(scenario: str, workdir: Path, *, calls: int = 0, port: int | None = None) -> Uas:
    """A SIPp UAS on loopback. A free port found here can be taken by another process before
    SIPp binds it (SIPp then exits at once, 254): with no `port` given, try fresh ports."""
    for attempt in range(1, 4):
        chosen = port or free_port()
        log_file = workdir / f"{scenario}-{chosen}.log"
        args = [SIPP, "-sf", str(SCENARIOS / "uas" / f"{scenario}.xml"), "-i", "127.0.0.1",
                "-p", str(chosen), "-mp", str(free_port()), "-nostdin",
                "-trace_logs", "-log_file", str(log_file), "-trace_err",
                "-error_file", str(workdir / f"{scenario}-{chosen}.err")]
        if calls:
            args += ["-m", str(calls)]
        proc = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda p=proc, c=chosen: udp_port_taken(c) or p.poll() is not None,
                   10, f"SIPp UAS on :{chosen}")
        if proc.poll() is None:
            return Uas(proc, chosen, log_file)
        if port is not None or attempt == 3:
            break
    raise AssertionError(f"SIPp UAS {scenario} exited with {proc.returncode}")


@dataclass(frozen=True)
class UacResult:
    returncode: int
    messages: str
    errors: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_uac(scenario: str, worker_port: int, workdir: Path, *, service: str,
            caller_csv: str = "callers-located.csv", calls: int = 1, rate: float = 10,
            source_ip: str = "127.0.0.1", variables: Mapping[str, str] | None = None,
            timeout: float = 60.0, extra: tuple[str, ...] = ()) -> UacResult:
    """Run a UAC scenario to completion (SIPp exits 0 only when every call succeeded)."""
    tag = f"{scenario}-{free_port()}"
    msg_file = workdir / f"{tag}.msg"
    err_file = workdir / f"{tag}.err"
    args = [SIPP, f"127.0.0.1:{worker_port}", "-sf", str(SCENARIOS / "uac" / f"{scenario}.xml"),
            "-inf", str(SCENARIOS / "uac" / caller_csv), "-s", service,
            "-i", source_ip, "-p", str(free_port(source_ip)), "-mp", str(free_port()),
            "-m", str(calls), "-r", str(rate), "-nostdin", "-timeout", f"{int(timeout)}s",
            "-timeout_error", "-trace_msg", "-message_file", str(msg_file),
            "-trace_err", "-error_file", str(err_file), *extra]
    for name, value in (variables or {}).items():
        args += ["-set", name, value]
    proc = subprocess.run(args, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout + 30)
    return UacResult(
        proc.returncode,
        msg_file.read_text(errors="replace") if msg_file.exists() else "",
        err_file.read_text(errors="replace") if err_file.exists() else "",
    )


@contextlib.contextmanager
def uas_trunks(workdir: Path, *scenarios: str, calls: int = 1) -> Iterator[list[Uas]]:
    """SIPp trunks for `scenarios`; each ends after `calls` calls (0: serves until stopped)."""
    started: list[Uas] = []
    try:
        for scenario in scenarios:
            started.append(start_uas(scenario, workdir, calls=calls))
        yield started
    finally:
        for uas in started:
            uas.stop()


def sipp_load(scenario: str, port: int, workdir: Path, *, service: str, rate: float,
              calls: int, csv_name: str = "callers-located.csv", source_ip: str = "127.0.0.1",
              limit: int | None = None, variables: dict[str, str] | None = None,
              timeout: float = 600) -> dict[str, float]:
    """Run SIPp to completion; return its cumulative counters and the achieved rate."""
    tag = f"{scenario}-{free_port()}"
    stat_file = workdir / f"{tag}.csv"
    args = [SIPP, f"127.0.0.1:{port}", "-sf", str(SCENARIOS / "uac" / f"{scenario}.xml"),
            "-inf", str(SCENARIOS / "uac" / csv_name), "-s", service, "-i", source_ip,
            "-p", str(free_port(source_ip)), "-mp", str(free_port()), "-m", str(calls),
            "-r", str(rate), "-nostdin", "-timeout", f"{int(timeout)}s", "-trace_stat",
            "-stf", str(stat_file), "-fd", "1", "-max_socket", "4096", "-recv_timeout", "20000",
            "-trace_err",
            "-error_file", str(workdir / f"{tag}.err")]
    if limit is not None:
        args += ["-l", str(limit)]
    for name, value in (variables or {}).items():
        args += ["-set", name, value]
    started = time.monotonic()
    subprocess.run(args, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True,
                   timeout=timeout + 60)
    elapsed = time.monotonic() - started
    with stat_file.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    last = rows[-1] if rows else {}
    ok = float(last.get("SuccessfulCall(C)", 0) or 0)
    failed = float(last.get("FailedCall(C)", 0) or 0)
    errors = (workdir / f"{tag}.err").read_text(errors="replace") if (
        workdir / f"{tag}.err").exists() else ""
    reasons: dict[str, int] = {}
    for line in errors.splitlines():
        for key in ("timed out", "unexpected message", "while expecting"):
            if key in line:
                found = re.search(r"received '(SIP/2\.0 \d{3})", line)
                label = found.group(1) if found else key
                reasons[label] = reasons.get(label, 0) + 1
                break
    return {"calls": calls, "successful": ok, "failed": failed, "seconds": round(elapsed, 2),
            "achieved_rate": round(calls / elapsed, 1) if elapsed else 0.0,
            "failures": reasons}


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
