"""Trunk health: an OPTIONS probe to every configured trunk (RFC 3261 s11), off the SIP thread.

The supervisor runs one `TrunkProber` thread per host; it sets `e911_trunk_up{trunk,purpose}`
and logs `e911.trunk.down` / `e911.trunk.up` when a trunk changes. It is signalling only and
plain Python sockets: no pjsua2, nothing shared with any worker's SIP thread.

A trunk is up when it answered the last probe with a final response other than 408, 5xx or
6xx (RFC 3261 s11.2: the OPTIONS answer is what an INVITE would get; a 404 or 405 still proves
a live SIP server, a 503 says it is refusing work). No answer within `timeout_seconds`, after
retransmissions at 0.5 s and 1.5 s (RFC 3261 s17.1.2.2, timer E), is down.
"""

from __future__ import annotations

import re
import secrets
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import structlog

from router.call.plan import Purpose
from router.metrics import TRUNK_UP

log = structlog.get_logger("router.trunk_probe")

DEFAULT_INTERVAL_SECONDS = 10.0
"""Like Kamailio's ds_ping_interval: a dead trunk shows within one interval plus the timeout."""
DEFAULT_TIMEOUT_SECONDS = 2.0
RETRANSMIT_AT = (0.5, 1.5)

_URI = re.compile(r"^(?P<scheme>sips?):(?:[^@;]*@)?(?P<host>\[[^\]]+\]|[^:;?]+)"
                  r"(?::(?P<port>\d+))?(?P<params>[^?]*)", re.I)
_STATUS = re.compile(rb"^SIP/2\.0 (\d{3}) ")
_CALL_ID = re.compile(rb"^(?:call-id|i)\s*:\s*(\S+)\s*$", re.I | re.M)


@dataclass(frozen=True, slots=True)
class Trunk:
    uri: str
    """As configured (`sip:host:port;transport=udp`): the `trunk` label."""
    purpose: Purpose
    host: str
    port: int
    transport: str
    """udp | tcp"""


def parse_trunk(uri: str, purpose: Purpose) -> Trunk:
    match = _URI.match(uri.strip())
    if match is None:
        raise ValueError(f"not a SIP URI: {uri!r}")
    params = match.group("params").lower()
    transport = "tcp" if "transport=tcp" in params else "udp"
    host = match.group("host").strip("[]")
    return Trunk(uri, purpose, host, int(match.group("port") or 5060), transport)


def trunks_of(psap: Sequence[str], sorting_center: Sequence[str], test: Sequence[str],
              outbound: str) -> tuple[Trunk, ...]:
    """Every trunk of the settings once per purpose, in the order the plan tries them."""
    found: list[Trunk] = []
    for purpose, uris in ((Purpose.PSAP, psap), (Purpose.SORTING_CENTER, sorting_center),
                          (Purpose.TEST, test), (Purpose.OUTBOUND, (outbound,))):
        for uri in uris:
            trunk = parse_trunk(uri, purpose)
            if trunk not in found:
                found.append(trunk)
    return tuple(found)


def options_request(trunk: Trunk, *, local_host: str, local_port: int, call_id: str,
                    branch: str, tag: str) -> bytes:
    """An out-of-dialog OPTIONS (RFC 3261 s11.1) to the trunk's URI."""
    via_host = f"[{local_host}]" if ":" in local_host else local_host
    transport = trunk.transport.upper()
    lines = [
        f"OPTIONS {trunk.uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} {via_host}:{local_port};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:e911-router@{via_host}>;tag={tag}",
        f"To: <{trunk.uri}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 OPTIONS",
        "Accept: application/sdp",
        "User-Agent: e911-router trunk probe",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def response_status(message: bytes) -> tuple[int, str] | None:
    """(status, Call-ID) of a SIP response, None for anything else."""
    status = _STATUS.match(message)
    call_id = _CALL_ID.search(message.partition(b"\r\n\r\n")[0])
    if status is None or call_id is None:
        return None
    return int(status.group(1)), call_id.group(1).decode("ascii", "replace")


def is_up(status: int) -> bool:
    return 200 <= status < 500 and status != 408


@dataclass(frozen=True, slots=True)
class ProbeResult:
    trunk: Trunk
    status: int
    """The final status; 0 when nothing came back in time."""
    seconds: float

    @property
    def up(self) -> bool:
        return is_up(self.status)


class TrunkProber:
    """Probes `trunks` every `interval_seconds` on its own thread; `probe_once()` for tests."""

    def __init__(self, trunks: Iterable[Trunk], *, bind_host: str = "0.0.0.0",  # noqa: S104
                 interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.trunks = tuple(trunks)
        self._bind_host = bind_host
        self._interval = interval_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last: dict[Trunk, ProbeResult] = {}

    def last(self) -> dict[Trunk, ProbeResult]:
        with self._lock:
            return dict(self._last)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trunk-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._timeout + 1)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.probe_once()
            except Exception:  # the prober must outlive any one bad round
                log.exception("e911.trunk.probe_failed")
            self._stop.wait(self._interval)

    def probe_once(self) -> list[ProbeResult]:
        udp = [t for t in self.trunks if t.transport == "udp"]
        tcp = [t for t in self.trunks if t.transport == "tcp"]
        results = self._probe_udp(udp) + [self._probe_tcp(t) for t in tcp]
        for result in results:
            self._publish(result)
        return results

    def _publish(self, result: ProbeResult) -> None:
        trunk = result.trunk
        TRUNK_UP.labels(trunk=trunk.uri, purpose=trunk.purpose.value).set(
            1 if result.up else 0)
        with self._lock:
            before = self._last.get(trunk)
            self._last[trunk] = result
        if before is None or before.up != result.up:
            event = "e911.trunk.up" if result.up else "e911.trunk.down"
            emit = log.info if result.up else log.error
            emit(event, trunk=trunk.uri, purpose=trunk.purpose.value, status=result.status)

    # -- UDP: every trunk at once, retransmitted, matched by Call-ID -------------------------

    def _probe_udp(self, trunks: Sequence[Trunk]) -> list[ProbeResult]:
        if not trunks:
            return []
        by_family: dict[int, list[Trunk]] = {}
        for trunk in trunks:
            by_family.setdefault(socket.AF_INET6 if ":" in trunk.host else socket.AF_INET,
                                 []).append(trunk)
        results: list[ProbeResult] = []
        for family, group in by_family.items():
            results += self._probe_udp_family(family, group)
        return results

    def _probe_udp_family(self, family: int, trunks: Sequence[Trunk]) -> list[ProbeResult]:
        bind = self._bind_host if family == socket.AF_INET else "::"
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((bind, 0))
            local_host, local_port = sock.getsockname()[:2]
            if local_host in ("0.0.0.0", "::"):  # noqa: S104
                local_host = "127.0.0.1" if family == socket.AF_INET else "::1"
            pending: dict[str, tuple[Trunk, bytes, tuple[str, int]]] = {}
            for trunk in trunks:
                call_id = f"probe-{secrets.token_hex(8)}"
                request = options_request(
                    trunk, local_host=local_host, local_port=local_port, call_id=call_id,
                    branch=f"z9hG4bK{secrets.token_hex(8)}", tag=secrets.token_hex(4))
                try:
                    target = socket.getaddrinfo(trunk.host, trunk.port, family,
                                                socket.SOCK_DGRAM)[0][4][:2]
                except OSError:
                    continue  # unresolvable: reported as no answer below
                pending[call_id] = (trunk, request, (str(target[0]), int(target[1])))
            started = self._clock()
            answered: dict[Trunk, ProbeResult] = {}
            self._send_all(sock, pending.values())
            retransmits = list(RETRANSMIT_AT)
            sock.settimeout(0.05)
            while pending and (elapsed := self._clock() - started) < self._timeout:
                if retransmits and elapsed >= retransmits[0]:
                    retransmits.pop(0)
                    self._send_all(sock, pending.values())
                try:
                    data = sock.recv(65535)
                except (TimeoutError, ConnectionRefusedError):
                    continue
                parsed = response_status(data)
                if parsed is None or parsed[1] not in pending or parsed[0] < 200:
                    continue
                trunk = pending.pop(parsed[1])[0]
                answered[trunk] = ProbeResult(trunk, parsed[0], self._clock() - started)
        return [answered.get(t) or ProbeResult(t, 0, self._timeout) for t in trunks]

    @staticmethod
    def _send_all(sock: socket.socket,
                  items: Iterable[tuple[Trunk, bytes, tuple[str, int]]]) -> None:
        for _, request, target in items:
            try:
                sock.sendto(request, target)
            except OSError:
                continue

    # -- TCP: one connection a probe ---------------------------------------------------------

    def _probe_tcp(self, trunk: Trunk) -> ProbeResult:
        started = self._clock()
        call_id = f"probe-{secrets.token_hex(8)}"
        try:
            with socket.create_connection((trunk.host, trunk.port),
                                          timeout=self._timeout) as sock:
                local_host, local_port = sock.getsockname()[:2]
                sock.sendall(options_request(
                    trunk, local_host=local_host, local_port=local_port, call_id=call_id,
                    branch=f"z9hG4bK{secrets.token_hex(8)}", tag=secrets.token_hex(4)))
                data = self._read_head(sock, started)
        except OSError:
            return ProbeResult(trunk, 0, self._clock() - started)
        parsed = response_status(data)
        status = parsed[0] if parsed and parsed[1] == call_id else 0
        return ProbeResult(trunk, status, self._clock() - started)

    def _read_head(self, sock: socket.socket, started: float) -> bytes:
        data = b""
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ)
        try:
            while b"\r\n\r\n" not in data:
                left = self._timeout - (self._clock() - started)
                if left <= 0 or not selector.select(left):
                    break
                chunk = sock.recv(65535)
                if not chunk:
                    break
                data += chunk
        finally:
            selector.close()
        return data
