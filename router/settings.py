"""Every `E911_*` setting, read once at startup into one frozen, typed object.

python-dotenv reads `.env` (or the file named by `E911_ENV_FILE`); the process environment wins
over the file. Each value is checked here, at load, and a bad one stops startup with a single
line naming the variable (`SettingsError`). Nothing else in the project reads `os.environ`.

Each field of `Settings` declares its variable, its default (as the text a user would write)
and its parser, followed by its doc: `sip_listen: HostPort = setting("E911_SIP_LISTEN",
"127.0.0.1:5060", parse_host_port)`. The fields are grouped in sections (SIP ingress, dial plan,
trunks, call handling, store, API and metrics, notifications, language and prompts, workers and
the front, call records, logging); `VARIABLES` is derived from them, in their order, which is
also the order `config show` prints. The parsers are in router/settings_parsers.py, what may be
printed of a value in router/redaction.py.

Our own reader rather than pydantic-settings (issue 15): pydantic-settings (a new dependency)
decodes tuple fields as JSON, reports every bad field at once in a multi-line ValidationError
that quotes the input, ignores an unknown E911_* variable in the environment, and skips a
missing env file silently. Each would have to be undone, field by field, to keep the one-line
`SettingsError` naming the variable with its value redacted, the "did you mean" refusal and
the E911_ENV_FILE check; the reader here is one loop over the fields.

`config/example.env` documents every variable; a test keeps the two in step.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar, cast

from dotenv import dotenv_values

from dialplan import DialPlanConfig, DialPlanConfigError, lint
from router.call.additional_data import CONTACT_URI
from router.call.modes import (
    AnnounceMode,
    AnnounceOverflow,
    AnnouncePath,
    EmergencyPath,
    EmergencyRequestUri,
    NormalCallMode,
)
from router.call.plan import RoutingPolicy
from router.deploy import Front, FrontDecisions, LogFormat
from router.language import Language
from router.settings_parsers import (
    HostPort,
    IPNetwork,
    SettingsError,
    parse_bool,
    parse_database_url,
    parse_digit_strings,
    parse_email,
    parse_emergency_workers,
    parse_enum,
    parse_extension_digits,
    parse_header_name,
    parse_host_port,
    parse_http_url,
    parse_int_range,
    parse_log_level,
    parse_loopback_host_port,
    parse_networks,
    parse_optional_sip_uris,
    parse_path,
    parse_port_range,
    parse_positive_float,
    parse_records_key,
    parse_sip_uri,
    parse_sip_uris,
    parse_smtp_url,
    parse_str,
    parse_tokens,
    parse_transports,
)

T = TypeVar("T")

_ALL_DIGITS = ",".join(str(d) for d in range(10))

KAMAILIO_CTL_SOCKET_NAME = "kamailio.ctl"
"""Kamailio's control socket, in E911_KAMAILIO_RUN_DIR (kamailio.cfg.tmpl's `ctl` modparam)."""
UNIX_SOCKET_PATH_MAX_BYTES = 103
"""The longest ctl socket path allowed. Kamailio 5.6 stops at startup on a longer one than 104
bytes (`init_unix_sock: name too long (105 > 104)`, measured on Debian 12), and sun_path holds
104 bytes with the terminating NUL on BSD and macOS: 103 fits both."""


@dataclass(frozen=True, slots=True)
class Setting:
    """How one field is read: its variable, its default (as the text a user would write) and
    its parser."""

    variable: str
    default: str
    parse: Callable[[str, str], Any]


_SETTING = "e911.setting"
"""The key of a `Setting` in its field's metadata."""


def setting(variable: str, default: str, parse: Callable[[str, str], T], *,
            repr: bool = True) -> T:
    """A `Settings` field read from `variable` (`default` when it is unset) by `parse`.

    Typed as what `parse` returns, so mypy checks each parser against its field's type.
    `repr=False` keeps a value that may hold a credential out of `repr(settings)`.
    """
    return cast(T, field(repr=repr, metadata={_SETTING: Setting(variable, default, parse)}))


def resolved_setting(variable: str, default: str, parse: Callable[[str, str], Any]) -> Any:
    """A field read like `setting`, whose parsed value `load_settings` then turns into the
    field's own (E911_EXTENSION_DIGITS, E911_KAMAILIO_EMERGENCY_WORKERS=auto)."""
    return field(metadata={_SETTING: Setting(variable, default, parse)})


def derived() -> Any:
    """A field no variable names: `load_settings` fills it from another field's variable."""
    return field()


@dataclass(frozen=True, slots=True)
class Settings:
    """The router's whole configuration. Units are in the names.

    Built only by `load_settings`: every field is required (the defaults are the variables'
    texts, read by the parsers).
    """

    # -- SIP ingress -----------------------------------------------------------------------

    sip_listen: HostPort = setting("E911_SIP_LISTEN", "127.0.0.1:5060", parse_host_port)
    sip_transports: tuple[str, ...] = setting("E911_SIP_TRANSPORTS", "udp,tcp",
                                              parse_transports)
    trusted_peers: tuple[IPNetwork, ...] = setting("E911_TRUSTED_PEERS", "127.0.0.0/8,::1/128",
                                                   parse_networks)
    """Only these networks may send us INVITEs; anything else gets 403."""
    device_ip_header: str = setting("E911_DEVICE_IP_HEADER", "X-E911-Device-IP",
                                    parse_header_name)
    """Header a trusted PBX fills with the device's own IP ("" disables)."""
    pbx_peers: tuple[IPNetwork, ...] = setting("E911_PBX_PEERS", "127.0.0.0/8,::1/128",
                                               parse_networks)
    """Peers whose `device_ip_header` we believe."""
    device_ip_required: bool = setting("E911_DEVICE_IP_REQUIRED", "false", parse_bool)
    """A PBX peer's INVITE without a readable `device_ip_header` has no known device (never
    the peer's own address): set by `run` for workers behind the front, which always sends it
    (issue 13)."""

    # -- Dial plan -------------------------------------------------------------------------

    access_prefixes: tuple[str, ...] = setting("E911_ACCESS_PREFIXES", _ALL_DIGITS,
                                               parse_digit_strings)
    extra_emergency_numbers: tuple[str, ...] = setting("E911_EXTRA_EMERGENCY_NUMBERS", "",
                                                       parse_digit_strings)
    extension_min_digits: int = resolved_setting("E911_EXTENSION_DIGITS", "2-6",
                                                 parse_extension_digits)
    """E911_EXTENSION_DIGITS=MIN-MAX gives this and `extension_max_digits`."""
    extension_max_digits: int = derived()

    # -- Trunks ----------------------------------------------------------------------------

    trunk_psap: tuple[str, ...] = setting("E911_TRUNK_PSAP", "sip:127.0.0.1:5071",
                                          parse_sip_uris)
    trunk_sorting_center: tuple[str, ...] = setting("E911_TRUNK_SORTING_CENTER",
                                                    "sip:127.0.0.1:5072", parse_sip_uris)
    trunk_test: tuple[str, ...] = setting("E911_TRUNK_TEST", "", parse_optional_sip_uris)
    """933 trunk list; defaults to `trunk_psap`."""
    trunk_outbound: str = setting("E911_TRUNK_OUTBOUND", "sip:127.0.0.1:5073", parse_sip_uri)
    trunk_timeout_seconds: float = setting("E911_TRUNK_TIMEOUT_SECONDS", "4",
                                           parse_positive_float)

    # -- Call handling ---------------------------------------------------------------------

    normal_call_mode: NormalCallMode = setting("E911_NORMAL_CALL_MODE", "redirect",
                                               parse_enum(NormalCallMode))
    announce_mode: AnnounceMode = setting("E911_ANNOUNCE_MODE", "early",
                                          parse_enum(AnnounceMode))
    announce_overflow: AnnounceOverflow = setting("E911_ANNOUNCE_OVERFLOW", "shed",
                                                  parse_enum(AnnounceOverflow))
    """What an unlocated caller gets when no slot is free to play the prompt."""
    emergency_path: EmergencyPath = setting("E911_EMERGENCY_PATH", "auto",
                                            parse_enum(EmergencyPath))
    emergency_request_uri: EmergencyRequestUri = setting("E911_EMERGENCY_REQUEST_URI", "trunk",
                                                         parse_enum(EmergencyRequestUri))
    provider_name: str = setting("E911_PROVIDER_NAME", "", parse_str)
    """RFC 7852 ProviderInfo DataProviderString (E911_EMERGENCY_REQUEST_URI=sos)."""
    provider_contact: str = setting("E911_PROVIDER_CONTACT", "", parse_str)
    """RFC 7852 ProviderInfo ContactURI: sip:, sips: or tel: URI of the operator's NOC."""
    provider_id: str = setting("E911_PROVIDER_ID", "", parse_str)
    """RFC 7852 ProviderInfo ProviderID (e.g. the NENA company ID; "" = none issued)."""
    announce_path: AnnouncePath = setting("E911_ANNOUNCE_PATH", "worker",
                                          parse_enum(AnnouncePath))
    """front: Kamailio + rtpengine play "address not registered" (with E911_FRONT=kamailio)."""
    announce_max: int = setting("E911_ANNOUNCE_MAX", "1000", parse_int_range(1, 100000))
    """Announcements the front plays at once; beyond: the final 403 + Reason at once."""
    rtpengine_binary: Path = setting("E911_RTPENGINE_BINARY", "rtpengine", parse_path)
    rtpengine_ng: HostPort = setting("E911_RTPENGINE_NG", "127.0.0.1:2223",
                                     parse_loopback_host_port)
    """rtpengine's ng control port (loopback only); its CLI (rtpengine-ctl) listens on port + 1."""
    rtpengine_ports: tuple[int, int] = setting("E911_RTPENGINE_PORTS", "30000-39999",
                                               parse_port_range)
    """The RTP port range rtpengine takes announcements' media ports from (2 per call)."""

    # -- Store and locations ---------------------------------------------------------------

    database_url: str = setting("E911_DATABASE_URL", "sqlite:///var/e911.db",
                                parse_database_url, repr=False)
    """May hold a password: print `redacted("E911_DATABASE_URL", ...)`, never the value."""
    bind_prefix_v4: int = setting("E911_BIND_PREFIX_V4", "32", parse_int_range(8, 32))
    bind_prefix_v6: int = setting("E911_BIND_PREFIX_V6", "64", parse_int_range(16, 128))

    # -- HTTP API and metrics --------------------------------------------------------------

    api_listen: HostPort = setting("E911_API_LISTEN", "127.0.0.1:8080", parse_host_port)
    admin_tokens: tuple[str, ...] = setting("E911_ADMIN_TOKENS", "", parse_tokens, repr=False)
    metrics_listen: HostPort = setting("E911_METRICS_LISTEN", "127.0.0.1:9911", parse_host_port)

    # -- Notifications (SMTP, webhook) -----------------------------------------------------

    smtp_url: str = setting("E911_SMTP_URL", "smtp://127.0.0.1:8025", parse_smtp_url,
                            repr=False)
    smtp_from: str = setting("E911_SMTP_FROM", "e911-router@localhost", parse_email)
    notify_on_test_calls: bool = setting("E911_NOTIFY_ON_TEST_CALLS", "false", parse_bool)
    webhook_url: str = setting("E911_WEBHOOK_URL", "", parse_http_url, repr=False)
    """May hold a token (userinfo, path or query): print `redact_url()` of it."""
    webhook_secret: str = setting("E911_WEBHOOK_SECRET", "", parse_str, repr=False)

    # -- Language and prompts --------------------------------------------------------------

    default_language: Language = setting("E911_DEFAULT_LANGUAGE", "en", parse_enum(Language))
    prompts_dir: Path = setting("E911_PROMPTS_DIR", "config/prompts", parse_path)

    # -- Workers and the SIP front (Kamailio) ----------------------------------------------

    workers: int = setting("E911_WORKERS", "2", parse_int_range(1, 64))
    front: Front = setting("E911_FRONT", "kamailio", parse_enum(Front))
    worker_listen: HostPort = setting("E911_WORKER_LISTEN", "127.0.0.1:5081", parse_host_port)
    """Worker k (1-based) listens on this host, port + k - 1, when the front is Kamailio."""
    kamailio_binary: Path = setting("E911_KAMAILIO_BINARY", "kamailio", parse_path)
    kamailio_run_dir: Path = setting("E911_KAMAILIO_RUN_DIR", "var/kamailio", parse_path)
    """Where the rendered kamailio.cfg and dispatcher.list and Kamailio's runtime files live."""
    kamailio_shm_mb: int = setting("E911_KAMAILIO_SHM_MB", "512", parse_int_range(256, 65536))
    kamailio_pkg_mb: int = setting("E911_KAMAILIO_PKG_MB", "16", parse_int_range(8, 1024))
    kamailio_children: int = setting("E911_KAMAILIO_CHILDREN", "4", parse_int_range(1, 64))
    kamailio_worker_timeout_ms: int = setting("E911_KAMAILIO_WORKER_TIMEOUT_MS", "1000",
                                              parse_int_range(100, 32000))
    """How long a worker has to answer an INVITE before Kamailio tries the next one."""
    kamailio_emergency_timeout_ms: int = setting("E911_KAMAILIO_EMERGENCY_TIMEOUT_MS", "4000",
                                                 parse_int_range(100, 32000))
    """The same for a 911/933: longer, so a 911 queued behind a burst is still answered by
    a worker (with its location) rather than sent on without it."""
    kamailio_worker_cps: int = setting("E911_KAMAILIO_WORKER_CPS", "100",
                                       parse_int_range(1, 100000))
    """Non-emergency INVITEs a second Kamailio offers each worker (emergency calls exempt)."""
    kamailio_source_limit: int = setting("E911_KAMAILIO_SOURCE_LIMIT", "60",
                                         parse_int_range(0, 1000000))
    """Requests per 2 s from one direct (non-PBX) sender before pike blocks it; 0: off."""
    kamailio_tcp_max_connections: int = setting("E911_KAMAILIO_TCP_MAX_CONNECTIONS", "8192",
                                                parse_int_range(64, 1000000))
    """SIP/TCP connections the front holds at once (Kamailio tcp_max_connections)."""
    kamailio_tcp_idle_seconds: int = setting("E911_KAMAILIO_TCP_IDLE_SECONDS", "5",
                                             parse_int_range(1, 3600))
    """How long a TCP connection may stay silent until a trusted peer's first complete
    message on it (and an untrusted one's connection after its 403): then it is closed."""
    kamailio_tcp_lifetime_seconds: int = setting("E911_KAMAILIO_TCP_LIFETIME_SECONDS", "600",
                                                 parse_int_range(1, 86400))
    """How long a trusted peer's (or a dialog's) TCP connection may stay silent."""
    kamailio_remote_workers: tuple[str, ...] = setting("E911_KAMAILIO_REMOTE_WORKERS", "",
                                                       parse_optional_sip_uris)
    """Workers on other hosts (SIP URIs) the front also dispatches to."""
    kamailio_route_cache_seconds: int = setting("E911_KAMAILIO_ROUTE_CACHE_SECONDS", "60",
                                                parse_int_range(0, 3600))
    """How long the front routes a located caller's ordinary calls itself after a worker
    redirected one (emptied when bindings change); 0: every call goes to a worker."""
    front_decisions: FrontDecisions = setting("E911_FRONT_DECISIONS", "workers",
                                              parse_enum(FrontDecisions))
    """python: Kamailio runs the decision code itself (app_python3) and sends a located caller's
    ordinary call to its route, an invalid number its 404, without a worker; workers (the
    default until a change storm cannot block it: docs/kamailio.md): every call goes to a
    worker. 911/933 and unlocated callers always reach a worker."""
    kamailio_emergency_workers: int = resolved_setting("E911_KAMAILIO_EMERGENCY_WORKERS", "auto",
                                                       parse_emergency_workers)
    """The last this many local workers take only 911/933 from the front (their own dispatcher
    set, tried first for emergency calls); `auto` resolved: 1 when E911_WORKERS >= 3, else 0."""

    # -- Call records ----------------------------------------------------------------------

    record_retention_days: int = setting("E911_RECORD_RETENTION_DAYS", "2555",
                                         parse_int_range(1, 36500))
    records_key: str = setting("E911_RECORDS_KEY", "", parse_records_key, repr=False)
    """The call records' chain key (HMAC-SHA256, router/records/key.py); "" = the key file."""
    records_key_file: Path = setting("E911_RECORDS_KEY_FILE", "var/records.key", parse_path)
    """Where the key is read from when `records_key` is empty (created by `run` if missing)."""

    # -- Logging ---------------------------------------------------------------------------

    log_level: str = setting("E911_LOG_LEVEL", "info", parse_log_level)
    log_format: LogFormat = setting("E911_LOG_FORMAT", "auto", parse_enum(LogFormat))

    def dialplan_config(self) -> DialPlanConfig:
        return DialPlanConfig(
            access_prefixes=self.access_prefixes,
            extra_emergency_numbers=self.extra_emergency_numbers,
            extension_min_digits=self.extension_min_digits,
            extension_max_digits=self.extension_max_digits,
        )

    def routing_policy(self) -> RoutingPolicy:
        """The slice of the settings a call plan depends on (`router.call.plan.plan_call`)."""
        return RoutingPolicy(
            trunk_psap=self.trunk_psap,
            trunk_sorting_center=self.trunk_sorting_center,
            trunk_test=self.trunk_test or self.trunk_psap,
            trunk_outbound=self.trunk_outbound,
            normal_call_mode=self.normal_call_mode,
            announce_mode=self.announce_mode,
            default_language=self.default_language,
        )


_SETTINGS: tuple[tuple[str, Setting], ...] = tuple(
    (f.name, f.metadata[_SETTING]) for f in fields(Settings) if _SETTING in f.metadata)
"""(field name, how it is read), in declaration order."""

VARIABLES: tuple[str, ...] = tuple(spec.variable for _, spec in _SETTINGS)
"""Every variable this module reads, in documentation order (plus E911_ENV_FILE)."""


def _emergency_workers(requested: int | None, workers: int) -> int:
    """E911_KAMAILIO_EMERGENCY_WORKERS=auto: one reserved worker once there are 3 or more (two
    ordinary workers stay, so one stuck worker never leaves ordinary calls without any)."""
    if requested is None:
        return 1 if workers >= 3 else 0
    return requested


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build `Settings` from E911_* strings (missing ones take their defaults).

    Raises `SettingsError` naming the first bad variable. Unknown `E911_*` names are refused
    too: a misspelt variable would otherwise silently leave a default in force.
    """
    known = set(VARIABLES) | {"E911_ENV_FILE"}
    for name in sorted(env):
        if name.startswith("E911_") and name not in known:
            close = difflib.get_close_matches(name, VARIABLES, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SettingsError(f"{name}: unknown setting{hint}")
    values: dict[str, Any] = {}
    for field_name, spec in _SETTINGS:
        raw = env.get(spec.variable)
        text = spec.default if raw is None else raw
        values[field_name] = spec.parse(spec.variable, text)

    values["extension_min_digits"], values["extension_max_digits"] = \
        values["extension_min_digits"]
    values["kamailio_emergency_workers"] = _emergency_workers(
        values["kamailio_emergency_workers"], values["workers"])
    if not values["trunk_test"]:
        values["trunk_test"] = values["trunk_psap"]
    if values["webhook_url"] and len(values["webhook_secret"]) < 16:
        raise SettingsError("E911_WEBHOOK_SECRET: needs at least 16 characters when "
                            "E911_WEBHOOK_URL is set (deliveries are HMAC-signed)")
    settings = Settings(**values)
    _check_dialplan(settings)
    _check_ng911(settings)
    _check_front(settings)
    _check_kamailio_run_dir(settings)
    return settings


def _check_dialplan(settings: Settings) -> None:
    """Refuse any dial plan under which 911 or 933 would not be an emergency (safety lint)."""
    try:
        lint(settings.dialplan_config())
    except DialPlanConfigError as exc:
        names = {
            "access_prefixes": "E911_ACCESS_PREFIXES",
            "extra_emergency_numbers": "E911_EXTRA_EMERGENCY_NUMBERS",
            "extension_min_digits": "E911_EXTENSION_DIGITS",
            "extension_max_digits": "E911_EXTENSION_DIGITS",
        }
        name = names.get(exc.field or "",
                         "E911_ACCESS_PREFIXES/E911_EXTRA_EMERGENCY_NUMBERS/E911_EXTENSION_DIGITS")
        raise SettingsError(f"{name}: {exc}") from None


def _check_ng911(settings: Settings) -> None:
    """The NG911 form needs the provider's identity (RFC 7852 ProviderInfo) and the front: a
    located 911 in that form is larger than a worker can send (router/call/size.py), so the
    worker hands it to Kamailio (router/kamailio/ng911.py); without a front its 302 would
    reach the PBX and the call would lose its location."""
    if settings.emergency_request_uri is not EmergencyRequestUri.SOS:
        return
    if not settings.provider_name:
        raise SettingsError("E911_PROVIDER_NAME: must be set when "
                            "E911_EMERGENCY_REQUEST_URI=sos (RFC 7852 ProviderInfo)")
    for name, value in (("E911_PROVIDER_NAME", settings.provider_name),
                        ("E911_PROVIDER_ID", settings.provider_id)):
        if "$" in value or "\\" in value:
            # Rendered into kamailio.cfg (router/kamailio/ng911.py): `$` would be a variable.
            raise SettingsError(f"{name}: must not contain $ or \\")
    if CONTACT_URI.fullmatch(settings.provider_contact) is None:
        raise SettingsError("E911_PROVIDER_CONTACT: must be a sip:, sips: or tel: URI when "
                            "E911_EMERGENCY_REQUEST_URI=sos (RFC 7852 ProviderInfo ContactURI)")
    # A worker behind Kamailio runs with E911_FRONT=none and E911_DEVICE_IP_REQUIRED (`run`).
    if settings.front is Front.NONE and not settings.device_ip_required:
        raise SettingsError("E911_EMERGENCY_REQUEST_URI=sos: needs E911_FRONT=kamailio (a "
                            "located 911 in the NG911 form is too large for a worker to send)")


def _check_kamailio_run_dir(settings: Settings) -> None:
    """Kamailio's control socket path must fit a Unix socket address; a relative run directory
    counts from where the router starts, as Kamailio's does."""
    if settings.front is Front.NONE:
        return
    run_dir = settings.kamailio_run_dir
    socket_path = run_dir.resolve() / KAMAILIO_CTL_SOCKET_NAME
    length = len(os.fsencode(socket_path))
    if length > UNIX_SOCKET_PATH_MAX_BYTES:
        raise SettingsError(
            f"E911_KAMAILIO_RUN_DIR={run_dir}: Kamailio's control socket there ({socket_path}) "
            f"would be {length} bytes long; a Unix socket path must be at most "
            f"{UNIX_SOCKET_PATH_MAX_BYTES}: choose a shorter directory (an absolute path such "
            f"as /run/e911-kamailio)")


def _check_front(settings: Settings) -> None:
    """Behind Kamailio every INVITE comes from the front, so the device's address must travel in
    E911_DEVICE_IP_HEADER, and no worker port may be the front's own. Without a front the
    workers take consecutive ports from E911_SIP_LISTEN's."""
    if settings.front is Front.NONE:
        name, base = "E911_SIP_LISTEN", settings.sip_listen
    else:
        name, base = "E911_WORKER_LISTEN", settings.worker_listen
        if not settings.device_ip_header:
            raise SettingsError("E911_DEVICE_IP_HEADER: must be set when E911_FRONT=kamailio "
                                "(the workers see the front's address as the source of every "
                                "INVITE)")
    first, last = base.port, base.port + settings.workers - 1
    if last > 65535:
        raise SettingsError(f"{name}={base}: {settings.workers} workers need ports "
                            f"{first}-{last}; the last port must be at most 65535")
    reserved = settings.kamailio_emergency_workers
    if reserved >= settings.workers:
        raise SettingsError(f"E911_KAMAILIO_EMERGENCY_WORKERS={reserved}: must be less than "
                            f"E911_WORKERS={settings.workers} (at least one local worker must "
                            f"take ordinary calls)")
    if settings.front is Front.KAMAILIO and base.host == settings.sip_listen.host and \
            first <= settings.sip_listen.port <= last:
        raise SettingsError(f"E911_WORKER_LISTEN={base}: worker ports {first}-{last} include "
                            f"E911_SIP_LISTEN={settings.sip_listen}")


def read_environment(env_file: str | None = None) -> dict[str, str]:
    """The process environment over the `.env` file (the file never overrides the process)."""
    path = env_file or os.environ.get("E911_ENV_FILE") or ".env"
    merged: dict[str, str] = {}
    if Path(path).is_file():
        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    elif env_file or os.environ.get("E911_ENV_FILE"):
        raise SettingsError(f"E911_ENV_FILE={path!r}: file not found")
    merged.update({k: v for k, v in os.environ.items() if k.startswith("E911_")})
    return merged


def load_settings_from_environment(env_file: str | None = None) -> Settings:
    """What the console script calls once at startup."""
    return load_settings(read_environment(env_file))


def settings_fields() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Settings))
