"""`e911-router run`: start the router's processes, restart any that dies, drain on SIGTERM.

Children (each a `ChildSpec`):

- **workers**: `e911-router worker`, one process and one SIP port each (4 pjsua2 slots);
- **services**: the HTTP API and the notification sender, when those commands exist;
- **rtpengine** (E911_ANNOUNCE_PATH=front): the front's announcement player, a service
  started with the workers; Kamailio waits until it answers an ng ping (router/kamailio/
  rtpengine.py);
- **the front**: Kamailio (`kamailio -DD -E`), started once the workers answer SIP OPTIONS so
  its first calls find them up. It forks its own processes, so it runs in its own process
  group and is signalled as a group.

A child that exits is restarted after a backoff that doubles from 0.5 s up to 30 s and resets
once the child has stayed up for a minute; a worker's restart is counted in
`e911_worker_restarts_total`, every restart is logged as `e911.supervisor.restarted`. SIGTERM
or SIGINT drains: the front stops first (no new calls reach a worker that is leaving), then the
workers and services get SIGTERM (a worker hangs up its calls and exits 0); what is still up
after `drain_seconds` is killed. Every child also gets SIGTERM from the kernel if the supervisor
itself dies (PR_SET_PDEATHSIG), so no orphan keeps a port.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import structlog

from router.metrics import WORKER_RESTARTS
from router.settings_parsers import HostPort

log = structlog.get_logger("router.supervisor")

FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
STABLE_AFTER_SECONDS = 60.0
FRONT_STOP_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1


class ChildKind(StrEnum):
    WORKER = "worker"
    SERVICE = "service"
    FRONT = "front"


class PortTaken(RuntimeError):
    """A port we must listen on is in use: startup refuses with a clear message."""


@dataclass(frozen=True, slots=True)
class ChildSpec:
    name: str
    """"worker-1", "api", "notify-sender", "kamailio"."""
    argv: tuple[str, ...]
    kind: ChildKind
    env: tuple[tuple[str, str], ...] = ()
    """Variables set for this child on top of the supervisor's environment."""
    sip_probe: HostPort | None = None
    """Ready once this address answers SIP OPTIONS with 200 (workers)."""
    own_group: bool = False
    """Signal and kill the child's whole process group (Kamailio forks its receivers)."""
    ready: Callable[[], bool] | None = None
    """Ready once this returns True (rtpengine: answers an ng ping), like `sip_probe`."""


@dataclass(frozen=True, slots=True)
class ChildStatus:
    """One child as `Supervisor.status()` reports it (`e911-router status`)."""

    name: str
    kind: str
    pid: int
    """0 while it is down, waiting for its restart."""
    running: bool
    up_seconds: float
    restarts: int
    last_exit: int | None


@dataclass(slots=True)
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF_SECONDS
    restart_at: float = 0.0
    restarts: int = 0
    exits: list[int] = field(default_factory=list)


def check_port_free(what: str, address: HostPort, kinds: Sequence[int]) -> None:
    """Raise PortTaken naming the setting when `address` cannot be bound."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    for kind in kinds:
        with socket.socket(family, kind) as probe:
            if kind == socket.SOCK_STREAM:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address.host, address.port))
            except OSError as exc:
                proto = "TCP" if kind == socket.SOCK_STREAM else "UDP"
                why = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                raise PortTaken(f"{what}: {proto} port {address} {why}; stop the other "
                                f"process or choose another address") from None


def sip_options_ok(address: HostPort, timeout_seconds: float = 0.5) -> bool:
    """True when `address` answers an OPTIONS over UDP with 200 (RFC 3261 s11)."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    host = f"[{address.host}]" if family == socket.AF_INET6 else address.host
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_seconds)
        try:
            sock.connect((address.host, address.port))
            local_host, local_port = sock.getsockname()[:2]
            local = f"[{local_host}]" if family == socket.AF_INET6 else local_host
            tag = secrets.token_hex(6)
            request = (
                f"OPTIONS sip:{host}:{address.port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {local}:{local_port};branch=z9hG4bK{tag}\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:supervisor@{local}>;tag={tag}\r\n"
                f"To: <sip:{host}:{address.port}>\r\nCall-ID: {tag}@{local}\r\n"
                f"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            )
            sock.send(request.encode())
            reply = sock.recv(4096)
        except OSError:
            return False
    return reply.startswith(b"SIP/2.0 200 ")


def _is_ready(spec: ChildSpec) -> bool:
    if spec.sip_probe is not None and not sip_options_ok(spec.sip_probe):
        return False
    return spec.ready is None or spec.ready()


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM us if the supervisor dies (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _clean_stop_codes(kind: ChildKind) -> tuple[int, ...]:
    """Exit codes that mean "stopped because we asked" after our SIGTERM.

    Ours exit 0 after draining, or die of the SIGTERM itself. Kamailio 5.6 sometimes exits 1
    when it stops on SIGTERM: its SIGCHLD handler can see a receiver end before its SIGTERM
    handler has finished (measured here: about 1 stop in 10 under load); it stopped on our
    request all the same, and a proxy's exit code at shutdown costs no call.
    """
    if kind is ChildKind.FRONT:
        return (0, 1, -signal.SIGTERM)
    return (0, -signal.SIGTERM)


class Supervisor:
    def __init__(self, children: Sequence[ChildSpec], *, drain_seconds: float = 10.0,
                 ready_timeout_seconds: float = 30.0, install_signals: bool = True,
                 on_ready: Callable[[], None] | None = None,
                 on_exit: Callable[[int], None] | None = None) -> None:
        self._children = [_Child(spec) for spec in children]
        self._on_exit = on_exit
        """Called with the pid of each child that exited (drops its live metrics gauges)."""
        self._drain_seconds = drain_seconds
        self._ready_timeout = ready_timeout_seconds
        self._install_signals = install_signals
        self._on_ready = on_ready
        self._stop = threading.Event()

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def pid_of(self, name: str) -> int | None:
        for child in self._children:
            if child.spec.name == name and child.process is not None:
                return child.process.pid
        return None

    def status(self) -> list[ChildStatus]:
        now = time.monotonic()
        found = []
        for child in self._children:
            process = child.process
            running = process is not None and process.poll() is None
            found.append(ChildStatus(
                name=child.spec.name, kind=child.spec.kind.value,
                pid=process.pid if process is not None else 0, running=running,
                up_seconds=round(now - child.started_at, 1) if running else 0.0,
                restarts=child.restarts, last_exit=child.exits[-1] if child.exits else None))
        return found

    def run(self) -> int:
        if self._install_signals:
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
        first = [c for c in self._children if c.spec.kind is not ChildKind.FRONT]
        for child in first:
            self._spawn(child)
        self._wait_ready(first)
        for child in self._children:
            if child.spec.kind is ChildKind.FRONT and not self._stop.is_set():
                self._spawn(child)
        log.info("e911.supervisor.ready", children=len(self._children))
        if self._on_ready is not None:
            self._on_ready()
        while not self._stop.wait(0.2):
            now = time.monotonic()
            for child in self._children:
                self._check(child, now)
        return self._drain()

    # -- internals ----------------------------------------------------------------------

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        argv = list(spec.argv)
        if spec.env:
            # `env` execs the child itself (same pid) with our environment plus these.
            argv = ["env", *(f"{k}={v}" for k, v in spec.env), *argv]
        child.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         start_new_session=spec.own_group,
                                         preexec_fn=_die_with_parent)
        child.started_at = time.monotonic()
        log.info("e911.supervisor.started", child=spec.name, pid=child.process.pid)

    def _wait_ready(self, children: Sequence[_Child]) -> None:
        """Until every worker answers OPTIONS (bounded: the front probes them anyway)."""
        waiting = [c for c in children
                   if c.spec.sip_probe is not None or c.spec.ready is not None]
        deadline = time.monotonic() + self._ready_timeout
        while waiting and not self._stop.is_set() and time.monotonic() < deadline:
            waiting = [c for c in waiting if not _is_ready(c.spec)]
            if waiting:
                self._stop.wait(0.1)
        for child in waiting:
            log.warning("e911.supervisor.not_ready", child=child.spec.name)

    def _check(self, child: _Child, now: float) -> None:
        process = child.process
        if process is None:
            if now >= child.restart_at:
                self._spawn(child)
                child.restarts += 1
                if child.spec.kind is ChildKind.WORKER:
                    WORKER_RESTARTS.inc()
                log.warning("e911.supervisor.restarted", child=child.spec.name,
                            restarts=child.restarts)
            return
        code = process.poll()
        if code is None:
            if now - child.started_at > STABLE_AFTER_SECONDS:
                child.backoff = FIRST_BACKOFF_SECONDS
            return
        if child.spec.own_group:
            # Its own children (Kamailio's receivers) would keep the port: end them too.
            self._signal_group(process, signal.SIGKILL)
        child.exits.append(code)
        child.process = None
        if self._on_exit is not None:
            try:
                self._on_exit(process.pid)
            except Exception:  # bookkeeping for metrics must not stop the restart
                log.exception("e911.supervisor.exit_hook_failed", child=child.spec.name)
        child.restart_at = now + child.backoff
        log.error("e911.supervisor.child_exited", child=child.spec.name, code=code,
                  restart_in_seconds=child.backoff)
        child.backoff = min(child.backoff * 2, MAX_BACKOFF_SECONDS)

    def _drain(self) -> int:
        fronts = [c for c in self._children if c.spec.kind is ChildKind.FRONT]
        others = [c for c in self._children if c.spec.kind is not ChildKind.FRONT]
        log.info("e911.supervisor.draining", children=len(self._children))
        worst = self._stop_children(fronts, FRONT_STOP_SECONDS)
        worst = max(worst, self._stop_children(others, self._drain_seconds))
        log.info("e911.supervisor.stopped", code=worst)
        return worst

    def _stop_children(self, children: Sequence[_Child], seconds: float) -> int:
        running = [c for c in children if c.process is not None and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            self._terminate(child, signal.SIGTERM)
        deadline = time.monotonic() + seconds
        worst = 0
        for child in running:
            process = child.process
            assert process is not None
            try:
                code = process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("e911.supervisor.killed", child=child.spec.name, pid=process.pid)
                self._terminate(child, signal.SIGKILL)
                process.wait()
                code = 1
            if child.spec.own_group:
                self._signal_group(process, signal.SIGKILL)
            log.info("e911.supervisor.child_stopped", child=child.spec.name, code=code)
            worst = max(worst, 0 if code in _clean_stop_codes(child.spec.kind) else 1)
        return worst

    def _terminate(self, child: _Child, signum: int) -> None:
        process = child.process
        if process is None:
            return
        if child.spec.own_group and signum == signal.SIGKILL:
            self._signal_group(process, signum)
        else:
            # SIGTERM to Kamailio's main process only: it stops its own receivers (a SIGTERM to
            # the whole group races them and Kamailio exits 1).
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
        # The group id is the child's pid (start_new_session): only processes we started.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)
