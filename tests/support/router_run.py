"""Drive the whole router (`python -m router run`: Kamailio + workers) on loopback.

The supervisor's stderr carries its own JSON events, the workers' JSON events and Kamailio's
log lines (children inherit it); they are collected as they come. Ports are found free at run
time; waits are for events (a log line, an answered OPTIONS), never blind sleeps.
"""

from __future__ import annotations

import contextlib
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
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from router.settings_parsers import HostPort
from router.supervisor import sip_options_ok
from tests.support.paths import PROMPTS, REPO
from tests.support.ports import free_port, free_port_block
from tests.support.processes import stop_process, wait_until

Event = dict[str, object]

requires_kamailio = pytest.mark.skipif(shutil.which("kamailio") is None,
                                       reason="kamailio not installed (scripts/test installs it)")


@dataclass
class RouterRun:
    """One `e911-router run` process and what it printed."""

    proc: subprocess.Popen[str]
    sip_port: int
    worker_ports: list[int]
    host: str = "127.0.0.1"
    env: dict[str, str] = field(default_factory=dict)
    """The E911_* settings it was started with."""
    events: list[Event] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    _news: queue.Queue[None] = field(default_factory=queue.Queue)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    """Re-entrant: a `where` given to wait_event may call count()."""

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.rstrip("\n")
            event: Event | None = None
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    event = json.loads(line)
            with self._lock:
                if event is not None:
                    self.events.append(event)
                else:
                    self.lines.append(line)
            self._news.put(None)

    def wait_event(self, name: str, timeout: float = 20.0,
                   where: Callable[[Event], bool] = lambda e: True, after: int = 0) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                for event in self.events[after:]:
                    if event.get("event") == name and where(event):
                        return event
            if self.proc.poll() is not None:
                raise AssertionError(f"router exited ({self.proc.returncode}) before {name}:\n"
                                     + "\n".join(self.lines[-20:]))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {name} event within {timeout} s")
            with contextlib.suppress(queue.Empty):
                self._news.get(timeout=min(remaining, 0.2))

    def wait_line(self, text: str, timeout: float = 20.0) -> str:
        """A non-JSON line (Kamailio's log) containing `text`."""
        found: list[str] = []

        def seen() -> bool:
            with self._lock:
                found[:] = [line for line in self.lines if text in line]
            return bool(found)

        wait_until(seen, timeout, f"a log line with {text!r}")
        return found[0]

    def count(self, name: str, where: Callable[[Event], bool] = lambda e: True) -> int:
        with self._lock:
            return sum(1 for e in self.events if e.get("event") == name and where(e))

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    def view_versions(self) -> dict[str, float]:
        """worker -> the change_seq its location view has applied (`e911_location_view_version`
        on the host's /metrics); {} while the endpoint does not answer."""
        url = f"http://{self.env['E911_METRICS_LISTEN']}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return {}
        return {s.labels["worker"]: s.value for f in text_string_to_metric_families(text)
                for s in f.samples if s.name == "e911_location_view_version"}

    def wait_views_at(self, seq: int, workers: int, timeout: float = 20) -> None:
        """Until each of this host's `workers` workers locates with change_seq `seq` or later:
        the signal that a store write is in force for every call from now on."""
        seen: list[dict[str, float]] = [{}]

        def caught_up() -> bool:
            seen[0] = self.view_versions()
            return len(seen[0]) == workers and min(seen[0].values()) >= seq

        try:
            wait_until(caught_up, timeout, f"every worker's view at change_seq {seq}",
                       interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; views: {seen[0]}") from None

    def pid_of(self, child: str) -> int:
        """The pid of the running `child` ("worker-1", "kamailio"): its last start event."""
        with self._lock:
            started = [e for e in self.events
                       if e.get("event") == "e911.supervisor.started" and e.get("child") == child]
        assert started, f"{child} never started"
        return int(str(started[-1]["pid"]))

    @property
    def api_url(self) -> str:
        return f"http://{self.env['E911_API_LISTEN']}"

    def worker_answers(self, port: int) -> bool:
        return sip_options_ok(HostPort(self.host, port))

    def signal_workers(self, signum: int) -> None:
        for k in range(1, len(self.worker_ports) + 1):
            os.kill(self.pid_of(f"worker-{k}"), signum)

    def signal_worker(self, child: str, signum: int) -> None:
        """One worker by its supervisor name ("worker-2"): e.g. SIGSTOP some workers only."""
        os.kill(self.pid_of(child), signum)

    def stop(self, timeout: float = 30.0) -> int:
        return stop_process(self.proc, timeout)


def router_env(base: Mapping[str, str], tmp_path: Path, *, sip_port: int, worker_port: int,
               workers: int, host: str = "127.0.0.1", front: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env.update({
        "E911_SIP_LISTEN": f"{host}:{sip_port if front else worker_port}",
        "E911_WORKER_LISTEN": f"{host}:{worker_port}",
        "E911_WORKERS": str(workers),
        "E911_FRONT": "kamailio" if front else "none",
        "E911_KAMAILIO_RUN_DIR": str(tmp_path / f"kamailio-{host}"),
        "E911_PROMPTS_DIR": str(PROMPTS),
        "E911_API_LISTEN": f"{host}:{free_port(host)}",
        "E911_METRICS_LISTEN": f"{host}:{free_port(host)}",
        "E911_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "E911_LOG_FORMAT": "json",
        "E911_TRUNK_TIMEOUT_SECONDS": "2",
        "E911_TRUNK_OUTBOUND": "sip:127.0.0.1:9",
        "E911_TRUNK_PSAP": "sip:127.0.0.1:9",
        "E911_TRUNK_SORTING_CENTER": "sip:127.0.0.1:9",
    })
    env.update(base)
    return env


def start_router(env: Mapping[str, str], tmp_path: Path, *, workers: int = 2,
                 cwd: Path = REPO, host: str = "127.0.0.1", front: bool = True) -> RouterRun:
    """`python -m router run`, returned once the supervisor says every child is up (and, with
    a front, once Kamailio answers OPTIONS). Without a front, `sip_port` is the first worker's."""
    sip_port = free_port(host)
    worker_port = free_port_block(workers, host)
    full_env = router_env(env, tmp_path, sip_port=sip_port, worker_port=worker_port,
                          workers=workers, host=host, front=front)
    # No trunk OPTIONS probes: a SIPp trunk scenario takes INVITEs only.
    argv = [sys.executable, "-m", "router", "run", "--trunk-probe-seconds", "0"]
    proc = subprocess.Popen(argv, cwd=cwd, env=full_env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    run = RouterRun(proc, sip_port if front else worker_port,
                    [worker_port + k for k in range(workers)], host=host,
                    env={k: v for k, v in full_env.items() if k.startswith("E911_")})
    threading.Thread(target=run._read, daemon=True).start()
    run.wait_event("e911.supervisor.ready", timeout=60)
    # Kamailio's receivers are up once the front answers OPTIONS itself.
    wait_until(lambda: sip_options_ok(HostPort(host, run.sip_port)), 20,
               "the front (or first worker) answering OPTIONS")
    return run


@contextlib.contextmanager
def running_router(env: Mapping[str, str], tmp_path: Path, *, workers: int = 2,
                   host: str = "127.0.0.1", front: bool = True) -> Iterator[RouterRun]:
    run = start_router(env, tmp_path, workers=workers, host=host, front=front)
    try:
        yield run
    finally:
        if run.proc.poll() is None:
            # Stopped (SIGSTOP) workers cannot drain: wake them first.
            with contextlib.suppress(AssertionError, ProcessLookupError):
                run.signal_workers(signal.SIGCONT)
        run.stop()


@dataclass
class FrontOnly:
    """Kamailio alone, rendered by the router, in front of workers that are not there."""

    proc: subprocess.Popen[str]
    sip_port: int
    lines: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._lock:
                self.lines.append(raw.rstrip("\n"))

    def count_lines(self, text: str) -> int:
        with self._lock:
            return sum(1 for line in self.lines if text in line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the main process stops its receivers
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_front(env: Mapping[str, str], tmp_path: Path, *, sip_port: int, worker_port: int,
                workers: int) -> FrontOnly:
    """Kamailio alone on `sip_port`, its config rendered from `env` (E911_* strings) exactly as
    `run` renders it, for `workers` workers from `worker_port` on."""
    from router.commands.kamailio import kamailio_binary, prepare
    from router.commands.run import kamailio_child
    from router.settings import load_settings

    values = {k: v for k, v in router_env(env, tmp_path, sip_port=sip_port,
                                          worker_port=worker_port, workers=workers).items()
              if k.startswith("E911_")}
    # No store unless the test names one: the front's own decisions (issue 19) then leave
    # every call to the (absent) workers, whatever store the working directory holds.
    values.setdefault("E911_DATABASE_URL", f"sqlite:///{tmp_path / 'no-store.db'}")
    settings = load_settings(values)
    front = prepare(settings, tmp_path / "kamailio")
    spec = kamailio_child(settings, front, kamailio_binary(settings))
    # The settings in its environment, as `run` gives them (Kamailio's Python reads them).
    environment = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    proc = subprocess.Popen(spec.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**environment, **values, **dict(spec.env)})
    run = FrontOnly(proc, sip_port)
    threading.Thread(target=run._read, daemon=True).start()
    return run


@contextlib.contextmanager
def front_only(env: Mapping[str, str], tmp_path: Path, *, workers: int = 2
               ) -> Iterator[FrontOnly]:
    """Render the config from `env` (E911_* strings) exactly as `run` does and start Kamailio
    with it; the worker ports have nobody behind them. Yields once both are marked down."""
    run = start_front(env, tmp_path, sip_port=free_port(), worker_port=free_port_block(workers),
                      workers=workers)
    try:
        wait_until(lambda: run.count_lines("e911.front.worker_down worker=") >= workers, 20,
                   "the front marking the absent workers down")
        yield run
    finally:
        run.stop()


def send_invite(port: int, request_uri: str, *, timeout: float = 10.0) -> int:
    """One INVITE (no SDP) over UDP to 127.0.0.1:`port`; returns the final status (ACKing a
    negative one as RFC 3261 s17.1.1.3 asks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        local = f"127.0.0.1:{sock.getsockname()[1]}"
        tag = os.urandom(6).hex()
        common = (f"Via: SIP/2.0/UDP {local};branch=z9hG4bK{tag}\r\n"
                  f"From: <sip:1001@127.0.0.1>;tag={tag}\r\nTo: <{request_uri}>\r\n"
                  f"Call-ID: {tag}@127.0.0.1\r\n")
        invite = (f"INVITE {request_uri} SIP/2.0\r\n{common}CSeq: 1 INVITE\r\n"
                  f"Contact: <sip:1001@{local}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        sock.sendto(invite.encode(), ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = sock.recv(65535).decode(errors="replace")
            status = int(data.split(" ", 2)[1])
            if status >= 200:
                if status >= 300:
                    ack = (f"ACK {request_uri} SIP/2.0\r\n{common}CSeq: 1 ACK\r\n"
                           f"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
                    sock.sendto(ack.encode(), ("127.0.0.1", port))
                return status
    raise AssertionError(f"no final answer to INVITE {request_uri}")


def front_stat(ctl_socket: Path, name: str) -> int:
    """A front statistic (`e911_front:<name>`) through Kamailio's ctl socket, with kamcmd, as
    an operator reads it."""
    out = subprocess.run(["kamcmd", "-s", f"unix:{ctl_socket}", "stats.get_statistics",
                          f"e911_front:{name}"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    match = re.search(rf"e911_front:{name} = (\d+)", out)
    assert match is not None, out
    return int(match.group(1))


def run_ctl_socket(run_dir: Path) -> Path:
    """The ctl socket of the Kamailio that `running_router` started in `run_dir`."""
    return run_dir / "kamailio-127.0.0.1" / "kamailio.ctl"
