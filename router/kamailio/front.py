"""What the Kamailio front needs to know, gathered from the router's settings. Pure.

One source of truth: the listen address, the trusted peers, the trunks and the emergency dial
strings Kamailio uses are the very settings and dial plan the workers use.
"""

from __future__ import annotations

import ipaddress
import site
from dataclasses import dataclass, field
from pathlib import Path

from router.call.additional_data import ProviderIdentity
from router.call.modes import EmergencyRequestUri
from router.call.plan import EMERGENCY_USER, TEST_USER, with_user
from router.deploy import Front, FrontDecisions
from router.kamailio.announce import AnnounceFront, announce_front
from router.kamailio.patterns import EmergencyPatterns, emergency_patterns
from router.settings import Settings
from router.settings_parsers import HostPort, IPNetwork

RETRY_AFTER_SECONDS = 5
"""RFC 3261 s20.33 Retry-After on the front's own 503s (the workers use the same value)."""

WORKER_BEHIND_SECONDS = 5
"""How long ordinary calls skip a worker after a call to it timed out (route
ORDINARY_ADMISSION): long enough for its queue to drain, short enough that a worker that
caught up is not left idle for long."""

EMERGENCY_RETRIES = 5
"""How many more times the front offers a 911/933 to a worker, 100 ms apart, when every worker
answered 486/503 (route NO_WORKER), before its own route without location."""

DIALOG_TIMEOUT_SECONDS = 12 * 3600
"""How long the front keeps a dialog whose BYE it never saw: in-dialog requests after that get
481. Longer than any call (an emergency call may stay up for hours)."""

KAMAILIO_LOG_LEVELS = {"debug": 3, "info": 1, "warning": 0, "error": -1}
"""E911_LOG_LEVEL -> Kamailio `debug`. `info` maps to NOTICE: per-call INFO lines at 1,000
calls/s would cost more than the calls."""


@dataclass(frozen=True, slots=True)
class FrontConfig:
    """Everything `render` writes into kamailio.cfg and dispatcher.list."""

    listen: HostPort
    transports: tuple[str, ...]
    workers: tuple[str, ...]
    """Ordinary workers' SIP URIs, dispatcher set 1: the local workers that are not reserved,
    then E911_KAMAILIO_REMOTE_WORKERS. Every call class may reach them."""
    emergency_workers: tuple[str, ...]
    """Reserved workers' SIP URIs, dispatcher set 2: the last E911_KAMAILIO_EMERGENCY_WORKERS
    local workers. Only 911/933 reach them, tried before set 1; empty: no set 2."""
    trusted_peers: tuple[IPNetwork, ...]
    pbx_peers: tuple[IPNetwork, ...]
    device_ip_header: str
    patterns: EmergencyPatterns
    sorting_center: tuple[str, ...]
    """Request-URIs (user 911) Kamailio tries in order for an emergency call no worker took."""
    test_trunks: tuple[str, ...]
    """Request-URIs (user 933) for a test call no worker took."""
    worker_timeout_ms: int
    emergency_timeout_ms: int
    """fr_timer toward a worker for 911/933 (E911_KAMAILIO_EMERGENCY_TIMEOUT_MS)."""
    trunk_timeout_ms: int
    rate_limit_cps: int
    """Non-emergency INVITEs a second for the whole front (the ordinary workers' share)."""
    source_limit: int
    """pike: requests per 2 s from one direct sender; 0 = no per-sender limit."""
    children: int
    tcp_max_connections: int
    tcp_idle_seconds: int
    """Lifetime of a TCP connection until a trusted peer's complete message (issue 13)."""
    tcp_lifetime_seconds: int
    """Lifetime of a trusted peer's (or a dialog's) TCP connection."""
    route_cache_seconds: int
    """E911_KAMAILIO_ROUTE_CACHE_SECONDS: 0 turns the route cache off."""
    run_dir: Path
    """Absolute: kamailio.cfg, dispatcher.list and Kamailio's runtime files."""
    debug_level: int
    announce: AnnounceFront = field(default_factory=AnnounceFront)
    """Issue 16: the announcer (router/kamailio/announce.py); off unless
    E911_ANNOUNCE_PATH=front."""
    ng911: ProviderIdentity | None = None
    """Issue 18: E911_EMERGENCY_REQUEST_URI=sos, the RFC 7852 provider (router/kamailio/ng911.py);
    None: 911s go out as sip:911@trunk."""
    registration_url: str = ""
    """This host's `POST /v1/registrations` (issue 17): where the front hands a PBX's
    registrations; empty when there is no administrator token to call it with."""
    registration_token: str = ""
    """The bearer token for it (the first of E911_ADMIN_TOKENS); never written in kamailio.cfg."""
    decisions: bool = False
    """Issue 19, E911_FRONT_DECISIONS=python: Kamailio runs the decision code itself
    (app_python3, router/kamailio/front_decide.py) for ordinary calls."""
    workdir: Path = Path("/")
    """The directory the router runs in: Kamailio changes its own to /, and the settings
    (`.env`, a relative SQLite path) are relative to this one, as for the workers."""
    python_path: tuple[str, ...] = ()
    """Where Kamailio's interpreter finds the router and its libraries: the router's source
    root, then this interpreter's site-packages (the virtualenv's)."""

    @property
    def cfg_path(self) -> Path:
        return self.run_dir / "kamailio.cfg"

    @property
    def dispatcher_path(self) -> Path:
        return self.run_dir / "dispatcher.list"


def local_workers(settings: Settings) -> tuple[HostPort, ...]:
    """Where this host's workers listen: behind Kamailio from E911_WORKER_LISTEN, without a
    front from E911_SIP_LISTEN (worker k on port + k - 1)."""
    base = settings.worker_listen if settings.front is Front.KAMAILIO else settings.sip_listen
    return tuple(HostPort(base.host, base.port + k) for k in range(settings.workers))


def sip_uri(address: HostPort) -> str:
    host = f"[{address.host}]" if ":" in address.host else address.host
    return f"sip:{host}:{address.port}"


def front_peers(settings: Settings) -> tuple[IPNetwork, ...]:
    """The address the workers see every INVITE come from when Kamailio is in front: its listen
    address, or the workers' own host when it listens on every interface (the kernel then picks
    the source address on the workers' network)."""
    host = settings.sip_listen.host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or address.is_unspecified:
        try:
            address = ipaddress.ip_address(settings.worker_listen.host)
        except ValueError:
            return ()
    return (ipaddress.ip_network(address),)


def front_config(settings: Settings, run_dir: Path) -> FrontConfig:
    local = tuple(sip_uri(w) for w in local_workers(settings))
    ordinary_count = len(local) - settings.kamailio_emergency_workers
    workers = local[:ordinary_count] + settings.kamailio_remote_workers
    return FrontConfig(
        listen=settings.sip_listen,
        transports=settings.sip_transports,
        workers=workers,
        emergency_workers=local[ordinary_count:],
        trusted_peers=settings.trusted_peers,
        pbx_peers=settings.pbx_peers,
        device_ip_header=settings.device_ip_header,
        patterns=emergency_patterns(settings.dialplan_config()),
        sorting_center=tuple(with_user(t, EMERGENCY_USER) for t in settings.trunk_sorting_center),
        test_trunks=tuple(with_user(t, TEST_USER) for t in settings.trunk_test),
        worker_timeout_ms=settings.kamailio_worker_timeout_ms,
        emergency_timeout_ms=settings.kamailio_emergency_timeout_ms,
        trunk_timeout_ms=round(settings.trunk_timeout_seconds * 1000),
        rate_limit_cps=settings.kamailio_worker_cps * len(workers),
        source_limit=settings.kamailio_source_limit,
        children=settings.kamailio_children,
        tcp_max_connections=settings.kamailio_tcp_max_connections,
        tcp_idle_seconds=settings.kamailio_tcp_idle_seconds,
        tcp_lifetime_seconds=settings.kamailio_tcp_lifetime_seconds,
        route_cache_seconds=settings.kamailio_route_cache_seconds,
        run_dir=run_dir,
        debug_level=KAMAILIO_LOG_LEVELS.get(settings.log_level, 1),
        announce=announce_front(settings),
        ng911=ProviderIdentity(settings.provider_name, settings.provider_contact,
                               settings.provider_id)
        if settings.emergency_request_uri is EmergencyRequestUri.SOS else None,
        registration_url=registration_url(settings) if settings.admin_tokens else "",
        registration_token=settings.admin_tokens[0] if settings.admin_tokens else "",
        decisions=settings.front_decisions is FrontDecisions.PYTHON,
        python_path=python_path(),
        workdir=Path.cwd(),
    )


def python_path() -> tuple[str, ...]:
    """The router's source root and the site-packages of the interpreter rendering the config
    (the virtualenv `e911-router` runs in): Kamailio embeds the system's libpython3.11, the
    same CPython, so the virtualenv's compiled extensions load there too."""
    root = str(Path(__file__).resolve().parents[2])
    return (root, *(p for p in site.getsitepackages() if p != root))


def registration_url(settings: Settings) -> str:
    """The API's registrations endpoint as this host's front reaches it: a wildcard listen
    address is reached on loopback."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(  # noqa: S104 (read)
        settings.api_listen.host, settings.api_listen.host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.api_listen.port}/v1/registrations"
