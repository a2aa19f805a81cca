"""SIPp on loopback: UAS trunks that keep every INVITE they receive, UAC callers run to
completion, and load runs that return SIPp's counters.

Every port is found free at run time; every wait is for an event (a bound port, a file that
appears, a process that exits), never a blind sleep.
"""

from __future__ import annotations

import contextlib
import csv
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import SCENARIOS
from tests.support.ports import free_port, udp_port_taken
from tests.support.processes import stop_process, wait_until
from tests.support.sip_messages import logged_invites

SIPP = shutil.which("sipp") or "sipp"


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
        return logged_invites(text)

    def wait_invites(self, count: int, timeout: float = 10.0) -> list[str]:
        wait_until(lambda: len(self.invites()) >= count, timeout,
                   f"{count} INVITE(s) at UAS :{self.port}")
        return self.invites()

    def stop(self) -> None:
        stop_process(self.proc, 5)


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
