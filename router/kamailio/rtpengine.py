"""rtpengine, the front's media player for announcements (docs/announcements.md).

With `E911_ANNOUNCE_PATH=front` Kamailio answers an unlocated caller's ordinary call itself
(183 + SDP, the prompt as early media, then 403 + Reason) and rtpengine plays the prompt.
rtpengine is part of the product: its configuration is rendered here from the router's
settings (`render_conf` is pure), `e911-router run` starts and supervises it like Kamailio
(`rtpengine_child`), and Kamailio's `rtpengine` module talks to it on the ng port.

Measured choices (../shared/facts/kamailio-rtpengine-announcements.md):
- userspace forwarding only (`table = -1`): the Debian kernel module is not needed for a
  one-way prompt, and a missing module must not stop the router;
- the control sockets on loopback: the ng port (no authentication in the protocol) and the
  CLI (rtpengine-ctl, on the ng port + 1) are reachable from this host only; the media on
  E911_SIP_LISTEN's address (where callers already reach the front);
- `delete-delay = 0`: a deleted announcement frees its ports at once;
- `final-timeout`: a session the script failed to delete (it always tries) ends anyway;
- `max-sessions`: rtpengine at its limit refuses the offer, and the caller gets its 403 at once.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from router.settings import Settings
from router.settings_parsers import HostPort
from router.supervisor import ChildKind, ChildSpec, check_port_free

FINAL_TIMEOUT_SECONDS = 120
"""Longer than any prompt (async_ms_sleep refuses 30 s and more) plus its tail."""


@dataclass(frozen=True, slots=True)
class RtpengineConfig:
    binary: str
    ng: HostPort
    ports: tuple[int, int]
    max_sessions: int
    run_dir: Path
    media_host: str = ""
    """The address rtpengine's media (and its SDP) use: E911_SIP_LISTEN's host, the address
    callers already reach us on; the ng host when that is a wildcard. Empty: the ng host."""

    @property
    def cli(self) -> HostPort:
        return HostPort(self.ng.host, self.ng.port + 1)

    @property
    def conf_path(self) -> Path:
        return self.run_dir / "rtpengine.conf"

    @property
    def ng_socket(self) -> str:
        """What Kamailio's `rtpengine_sock` modparam takes."""
        host = f"[{self.ng.host}]" if ":" in self.ng.host else self.ng.host
        return f"udp:{host}:{self.ng.port}"


def rtpengine_config(settings: Settings, run_dir: Path | None = None) -> RtpengineConfig:
    return RtpengineConfig(
        binary=str(settings.rtpengine_binary), ng=settings.rtpengine_ng,
        ports=settings.rtpengine_ports,
        # A little above our own cap: Kamailio's cap answers first, rtpengine's is the net.
        max_sessions=settings.announce_max + 16,
        run_dir=(run_dir or settings.kamailio_run_dir).resolve(),
        media_host=_media_host(settings))


def _media_host(settings: Settings) -> str:
    host = settings.sip_listen.host
    try:
        wildcard = ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a name: rtpengine wants an address
        wildcard = True
    return settings.rtpengine_ng.host if wildcard else host


def render_conf(config: RtpengineConfig) -> str:
    """rtpengine.conf (glib key file, section [rtpengine])."""
    low, high = config.ports
    ng_host = f"[{config.ng.host}]" if ":" in config.ng.host else config.ng.host
    return "\n".join([
        "# Written by e911-router from its settings (router/kamailio/rtpengine.py): do not edit.",
        "[rtpengine]",
        "table = -1",
        f"interface = {config.media_host or config.ng.host}",
        f"listen-ng = {ng_host}:{config.ng.port}",
        f"listen-cli = {ng_host}:{config.cli.port}",
        f"port-min = {low}",
        f"port-max = {high}",
        "delete-delay = 0",
        "timeout = 60",
        f"final-timeout = {FINAL_TIMEOUT_SECONDS}",
        f"max-sessions = {config.max_sessions}",
        "log-level = 5",
        "",
    ])


def write_conf(config: RtpengineConfig) -> Path:
    config.run_dir.mkdir(parents=True, exist_ok=True)
    config.conf_path.write_text(render_conf(config))
    return config.conf_path


def rtpengine_child(config: RtpengineConfig) -> ChildSpec:
    """`--foreground --log-stderr`: our child, logging to our stderr like Kamailio. A service
    child: started with the workers, before Kamailio, and stopped after it."""
    argv = (config.binary, f"--config-file={config.conf_path}", "--config-section=rtpengine",
            "--foreground", "--log-stderr", f"--pidfile={config.run_dir / 'rtpengine.pid'}")
    return ChildSpec("rtpengine", argv, ChildKind.SERVICE)


def check_rtpengine_ports(config: RtpengineConfig) -> None:
    """The ng and CLI ports must be free (PortTaken names the setting)."""
    check_port_free(f"E911_RTPENGINE_NG={config.ng} (rtpengine ng)", config.ng,
                    [socket.SOCK_DGRAM])
    check_port_free(f"E911_RTPENGINE_NG port + 1 = {config.cli} (rtpengine-ctl)", config.cli,
                    [socket.SOCK_STREAM])


def ng_request(ng: HostPort, command: bytes, *, timeout_seconds: float = 0.5) -> bytes:
    """One ng-protocol exchange (a cookie, then a bencoded dictionary; rtpengine's ng docs):
    `command` is the bencoded dictionary; returns the reply's dictionary, b"" on no answer."""
    family = socket.AF_INET6 if ":" in ng.host else socket.AF_INET
    cookie = secrets.token_hex(6).encode()
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_seconds)
        try:
            sock.connect((ng.host, ng.port))
            sock.send(cookie + b" " + command)
            reply = sock.recv(65535)
        except OSError:
            return b""
    head, _, body = reply.partition(b" ")
    return body if head == cookie else b""


def ng_ping(ng: HostPort) -> bool:
    """rtpengine answers ng commands (its readiness, and a liveness check)."""
    return b"pong" in ng_request(ng, b"d7:command4:pinge")


def ng_session_count(ng: HostPort) -> int | None:
    """Calls rtpengine holds now (ng `list`), None when it does not answer."""
    reply = ng_request(ng, b"d7:command4:list5:limiti10000ee")
    if b"2:ok" not in reply:
        return None
    return len(_bencoded_strings(reply.partition(b"5:calls")[2]))


def _bencoded_strings(data: bytes) -> list[bytes]:
    """A bencoded list of strings at the start of `data` (`l3:abc2:xye`)."""
    if not data.startswith(b"l"):
        return []
    found: list[bytes] = []
    at = 1
    while at < len(data) and data[at:at + 1] != b"e":
        length, colon, _ = data[at:].partition(b":")
        if not colon or not length.isdigit():
            return found
        start = at + len(length) + 1
        found.append(data[start:start + int(length)])
        at = start + int(length)
    return found
