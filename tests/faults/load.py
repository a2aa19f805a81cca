"""A steady SIPp load in the background (a caller at a fixed rate for a fixed count) and the
answering trunks it calls, for the fault tests: SIPp's statistics say afterwards how every
call ended."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from scripts.loadlib import LOAD, SIPP, Trunk, _last_stat_row, start_trunk
from tests.support.ports import free_port
from tests.support.sip_messages import logged_invites


@dataclass
class Load:
    """One SIPp caller running in the background at a fixed rate for a fixed count."""

    proc: subprocess.Popen[bytes]
    stat_file: Path
    calls: int
    done: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float) -> dict[str, int]:
        self.proc.wait(timeout)
        row = _last_stat_row(self.stat_file)
        return {"successful": int(row.get("SuccessfulCall(C)", "0") or 0),
                "failed": int(row.get("FailedCall(C)", "0") or 0), "offered": self.calls}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_load(port: int, csv: str, *, rate: int, calls: int, hold_ms: int, workdir: Path,
               name: str) -> Load:
    stat = workdir / f"{name}-stat.csv"
    args = [SIPP, f"127.0.0.1:{port}", "-sf", str(LOAD / "uac-call-expect-200-hold.xml"),
            "-inf", str(LOAD / csv), "-r", str(rate), "-rp", "1000", "-m", str(calls),
            "-l", str(rate * 20), "-d", str(hold_ms), "-i", "127.0.0.1",
            "-p", str(free_port()), "-mp", str(free_port()), "-nostdin",
            "-recv_timeout", "30000", "-timeout", "300s", "-timeout_error",
            "-trace_stat", "-stf", str(stat), "-fd", "1", "-trace_err",
            "-error_file", str(workdir / f"{name}.err")]
    proc = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Load(proc, stat, calls)


def answering_trunk(name: str, workdir: Path) -> Trunk:
    """A SIPp trunk that answers 100 + 200 (no 180: Kamailio's receiver processes may relay a
    180 after the 200, which a strict SIPp caller counts as a failed call) and keeps every
    INVITE it receives."""
    return start_trunk(name, workdir, keep_invites=True)


def invites_at(trunk: Trunk) -> list[str]:
    if trunk.log_file is None or not trunk.log_file.exists():
        return []
    return logged_invites(trunk.log_file.read_bytes().decode("utf-8", errors="replace"))
