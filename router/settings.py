"""Every `E911_*` setting, read once at startup into one frozen, typed object.

python-dotenv reads `.env` (or the file named by `E911_ENV_FILE`); the process environment wins
over the file. Each value is checked here, at load, and a bad one stops startup with a single
line naming the variable (`SettingsError`). Nothing else in the project reads `os.environ`.

`config/example.env` documents every variable; a test keeps the two in step.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from dialplan import DialPlanConfig, DialPlanConfigError, lint
from router.call.additional_data import CONTACT_URI

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A setting is missing or invalid. The message names the variable; print it as is."""


class Language(StrEnum):
    """Languages we speak to callers and contacts in (prompts, e-mail, SDP hlang)."""

    EN = "en"
    ES = "es"
    FR = "fr"


class NormalCallMode(StrEnum):
    REDIRECT = "redirect"
    """302 to the outbound route: the call slot frees at once (the default)."""
    BRIDGE = "bridge"
    """Signalling-only B2BUA leg: 2 slots a call, for small sites only."""


class AnnounceMode(StrEnum):
    EARLY = "early"
    """183 Session Progress with the prompt, then 403."""
    ANSWER = "answer"
    """200 OK, the prompt, then BYE."""


class AnnounceOverflow(StrEnum):
    SHED = "shed"
    """503 + Retry-After, like any call beyond capacity."""
    REJECT = "reject"
    """The final 403 + Reason at once, without the prompt (the call is refused either way)."""


class AnnouncePath(StrEnum):
    WORKER = "worker"
    """The worker plays the prompt itself (pjsua2, one announcement a worker at a time)."""
    FRONT = "front"
    """The worker only decides (a 302 naming the language); Kamailio + rtpengine play the prompt
    (docs/announcements.md). Needs E911_FRONT=kamailio and rtpengine."""


class EmergencyPath(StrEnum):
    BRIDGE = "bridge"
    FRONT = "front"
    AUTO = "auto"


class EmergencyRequestUri(StrEnum):
    """What a 911 INVITE to a PSAP trunk names as its Request-URI (docs/pidf-lo.md, "NG911")."""

    TRUNK = "trunk"
    """sip:911@trunk: carrier E911 trunks (selective-router gateways, SIP E911 services)."""
    SOS = "sos"
    """urn:service:sos, the trunk as Route, RFC 7852 additional data: NENA i3 ESInets."""


class Front(StrEnum):
    KAMAILIO = "kamailio"
    """Kamailio takes E911_SIP_LISTEN and spreads calls over the workers (E911_WORKER_LISTEN)."""
    NONE = "none"
    """No front: worker k listens on E911_SIP_LISTEN's port + k - 1 (one worker, or a host whose
    workers sit behind another host's front)."""


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_ALL_DIGITS = ",".join(str(d) for d in range(10))


@dataclass(frozen=True, slots=True)
class _Var:
    """How one variable is read: its default (as the text a user would write) and parser."""

    name: str
    default: str
    parse: Callable[[str, str], Any]


# -- secrets: what may be printed or logged ---------------------------------------------------

_SECRET_VARIABLE = re.compile(r"_(?:TOKENS?|KEY|SECRET)$|PASSWORD$|PASSWD$")
"""Variables whose whole value is a secret (E911_ADMIN_TOKENS, E911_RECORDS_KEY,
E911_WEBHOOK_SECRET, any *_TOKEN(S)/*_KEY/*_SECRET/*PASSWORD). A *_KEY_FILE is a path."""

_ACCOUNT_SCHEMES = frozenset({"postgresql", "postgres", "sqlite", "mysql", "mariadb", "smtp",
                              "smtps"})
"""Schemes (before any "+driver") whose URL user name is an account name, shown. Elsewhere
(webhooks) the userinfo is often the credential itself (https://TOKEN@host): all masked."""

_HARMLESS_QUERY_KEYS = frozenset({"sslmode", "connect_timeout", "application_name", "options",
                                  "target_session_attrs", "cafile", "sslrootcert", "timeout"})
"""URL query keys whose values are settings, not credentials; every other value is masked."""

_TOKEN_LIKE = re.compile(r"(?=.*[A-Za-z])(?=.*[0-9])[A-Za-z0-9_\-]{16,}")
"""A path segment that looks like a capability token (Slack, Teams and Discord webhook URLs
carry theirs in the path)."""

MASK = "***"


def is_secret_variable(name: str) -> bool:
    """True when the whole value of setting `name` is a secret."""
    return _SECRET_VARIABLE.search(name.upper()) is not None


def redact_url(url: str) -> str:
    """`url` with its credentials masked: the password (and, outside database and SMTP URLs,
    the user name), query values other than known settings, token-like path segments of
    http(s) URLs, and the fragment. Scheme, host, port and path stay, so an operator can
    still tell which server is meant."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<hidden: not a URL>"
    userinfo, at, netloc = parts.netloc.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        if parts.scheme.partition("+")[0] in _ACCOUNT_SCHEMES and user:
            netloc = f"{user}:{MASK}@{netloc}" if colon else f"{user}@{netloc}"
        else:
            netloc = f"{MASK}@{netloc}"
    path = parts.path
    if parts.scheme in ("http", "https"):
        path = "/".join(MASK if _TOKEN_LIKE.fullmatch(s) else s for s in path.split("/"))
    query = "&".join(
        item if key in _HARMLESS_QUERY_KEYS else f"{key}={MASK}" if sep else MASK
        for item in parts.query.split("&") if item
        for key, sep, _ in (item.partition("="),))
    text = urlunsplit(("", netloc, path, query, MASK if parts.fragment else ""))
    # urlunsplit drops an empty authority ("sqlite:///var/e911.db" would lose its "//").
    if url[len(parts.scheme) + 1:].startswith("//") and not text.startswith("//"):
        text = "//" + text
    return f"{parts.scheme}:{text}" if parts.scheme else text


def redacted(name: str, value: str) -> str:
    """The value of setting `name` as it may be printed or logged."""
    if is_secret_variable(name):
        return "<hidden>" if value else ""
    if name.upper().endswith("_URL") and value:
        return redact_url(value)
    return value


def _fail(name: str, value: str, why: str) -> SettingsError:
    # Never the secret itself: config check prints this line (issue 13, finding 9).
    return SettingsError(f"{name}={redacted(name, value)!r}: {why}")


def _parse_str(name: str, value: str) -> str:
    if any(c in value for c in "\r\n\x00"):
        raise _fail(name, value, "must not contain line breaks or NUL")
    return value.strip()


def _parse_int_range(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise _fail(name, value, "must be a whole number") from None
        if not low <= number <= high:
            raise _fail(name, value, f"must be between {low} and {high}")
        return number

    return parse


def _parse_positive_float(name: str, value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise _fail(name, value, "must be a number") from None
    if not 0 < number <= 3600:
        raise _fail(name, value, "must be greater than 0 and at most 3600")
    return number


def _parse_bool(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise _fail(name, value, "must be true or false")


def _parse_enum(enum: type[Enum]) -> Callable[[str, str], Any]:
    def parse(name: str, value: str) -> Any:
        try:
            return enum(value.strip().lower())
        except ValueError:
            choices = "|".join(str(m.value) for m in enum)
            raise _fail(name, value, f"must be one of {choices}") from None

    return parse


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parse_host_port(name: str, value: str) -> HostPort:
    text = value.strip()
    match = re.fullmatch(r"\[(?P<v6>[0-9A-Fa-f:.]+)\]:(?P<port>\d+)|(?P<host>[^:\[\]]+):(?P<p>\d+)",
                         text)
    if not match:
        raise _fail(name, value, "must be HOST:PORT (IPv6 as [ADDR]:PORT)")
    host = match.group("v6") or match.group("host")
    port = int(match.group("port") or match.group("p"))
    if not 1 <= port <= 65535:
        raise _fail(name, value, "port must be between 1 and 65535")
    if match.group("v6"):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _fail(name, value, f"{host!r} is not an IPv6 address") from None
    elif not re.fullmatch(r"[A-Za-z0-9.-]+", host):
        raise _fail(name, value, f"{host!r} is not a host name or address")
    return HostPort(host, port)


def _parse_loopback_host_port(name: str, value: str) -> HostPort:
    """A control port nobody else may reach: 127.0.0.0/8 or ::1 only."""
    address = _parse_host_port(name, value)
    try:
        loopback = ipaddress.ip_address(address.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise _fail(name, value, "must be a loopback address (127.0.0.1 or [::1]) and a port")
    return address


def _parse_port_range(name: str, value: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", value)
    if not match:
        raise _fail(name, value, "must be LOW-HIGH (e.g. 30000-39999)")
    low, high = int(match.group(1)), int(match.group(2))
    if not 1024 <= low < high <= 65535 or high - low < 3:
        raise _fail(name, value, "must be two ports 1024-65535, LOW < HIGH, at least 4 apart")
    return low, high


def _parse_networks(name: str, value: str) -> tuple[IPNetwork, ...]:
    networks: list[IPNetwork] = []
    for part in _split(value):
        try:
            networks.append(ipaddress.ip_network(part, strict=True))
        except ValueError as exc:
            raise _fail(name, value, f"{part!r} is not a CIDR network ({exc})") from None
    return tuple(networks)


_SIP_URI = re.compile(
    r"sips?:(?:(?P<user>[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+)@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?"
    r"(?P<params>(?:;[A-Za-z0-9\-_.!~*'()%]+(?:=[A-Za-z0-9\-_.!~*'()%\[\]:]+)?)*)"
)


def _parse_sip_uri(name: str, value: str) -> str:
    text = value.strip()
    match = _SIP_URI.fullmatch(text)
    if not match:
        raise _fail(name, value, f"{text!r} is not a SIP URI (sip:host[:port][;params])")
    port = match.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise _fail(name, value, "port must be between 1 and 65535")
    return text


def _parse_sip_uris(name: str, value: str) -> tuple[str, ...]:
    uris = tuple(_parse_sip_uri(name, part) for part in _split(value))
    if not uris:
        raise _fail(name, value, "needs at least one SIP URI")
    return uris


def _parse_optional_sip_uris(name: str, value: str) -> tuple[str, ...]:
    return _parse_sip_uris(name, value) if value.strip() else ()


def _parse_digit_strings(name: str, value: str) -> tuple[str, ...]:
    parts = tuple(_split(value))
    for part in parts:
        if not part.isdigit():
            raise _fail(name, value, f"{part!r} is not a digit string")
    return parts


def _parse_database_url(name: str, value: str) -> str:
    text = value.strip()
    scheme = urlsplit(text).scheme
    if scheme not in ("sqlite", "postgresql", "postgres", "postgresql+psycopg"):
        raise _fail(name, value, "must start with sqlite:/// or postgresql://")
    if scheme == "sqlite" and not text.startswith("sqlite:///"):
        raise _fail(name, value, "SQLite URLs look like sqlite:///var/e911.db")
    try:
        port = urlsplit(text).port
    except ValueError:
        port = 0
    if port == 0:
        # Caught here, so the message masks the password; SQLAlchemy's own parse error
        # would quote the whole URL.
        raise _fail(name, value, "port must be between 1 and 65535")
    return text


def _parse_http_url(name: str, value: str) -> str:
    text = value.strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(name, value, "must be an http:// or https:// URL")
    return text


def _parse_smtp_url(name: str, value: str) -> str:
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
        raise _fail(name, value, "must be smtp://[user:pass@]host:port, smtps://... or "
                                 "smtp+starttls://...")
    try:
        port = parts.port
    except ValueError:
        raise _fail(name, value, "port must be between 1 and 65535") from None
    if port is not None and port == 0:
        raise _fail(name, value, "port must be between 1 and 65535")
    return text


def _parse_email(name: str, value: str) -> str:
    text = value.strip()
    if not re.fullmatch(r"[^@\s<>\"]+@[^@\s<>\"]+", text):
        raise _fail(name, value, "must be an e-mail address")
    return text


def _parse_tokens(name: str, value: str) -> tuple[str, ...]:
    tokens = tuple(_split(value))
    for token in tokens:
        if len(token) < 16 or not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", token):
            raise _fail(name, "<hidden>", "each token needs at least 16 characters of "
                                          "[A-Za-z0-9._~+/=-]")
    return tokens


def _parse_header_name(name: str, value: str) -> str:
    text = value.strip()
    if text and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", text):
        raise _fail(name, value, "must be a SIP header name (letters, digits, '-')")
    return text


def _parse_extension_digits(name: str, value: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", value)
    if not match:
        raise _fail(name, value, "must be MIN-MAX, e.g. 2-6")
    low, high = int(match.group(1)), int(match.group(2))
    if not 1 <= low <= high <= 9:
        raise _fail(name, value, "must satisfy 1 <= MIN <= MAX <= 9")
    return low, high


def _parse_path(name: str, value: str) -> Path:
    return Path(_parse_str(name, value))


KAMAILIO_CTL_SOCKET_NAME = "kamailio.ctl"
"""Kamailio's control socket, in E911_KAMAILIO_RUN_DIR (kamailio.cfg.tmpl's `ctl` modparam)."""
UNIX_SOCKET_PATH_MAX_BYTES = 103
"""The longest ctl socket path allowed. Kamailio 5.6 stops at startup on a longer one than 104
bytes (`init_unix_sock: name too long (105 > 104)`, measured on Debian 12), and sun_path holds
104 bytes with the terminating NUL on BSD and macOS: 103 fits both."""


_VARS: tuple[_Var, ...] = (
    _Var("E911_SIP_LISTEN", "127.0.0.1:5060", _parse_host_port),
    _Var("E911_SIP_TRANSPORTS", "udp,tcp", lambda n, v: _parse_transports(n, v)),
    _Var("E911_TRUSTED_PEERS", "127.0.0.0/8,::1/128", _parse_networks),
    _Var("E911_DEVICE_IP_HEADER", "X-E911-Device-IP", _parse_header_name),
    _Var("E911_PBX_PEERS", "127.0.0.0/8,::1/128", _parse_networks),
    _Var("E911_DEVICE_IP_REQUIRED", "false", _parse_bool),
    _Var("E911_ACCESS_PREFIXES", _ALL_DIGITS, _parse_digit_strings),
    _Var("E911_EXTRA_EMERGENCY_NUMBERS", "", _parse_digit_strings),
    _Var("E911_EXTENSION_DIGITS", "2-6", _parse_extension_digits),
    _Var("E911_TRUNK_PSAP", "sip:127.0.0.1:5071", _parse_sip_uris),
    _Var("E911_TRUNK_SORTING_CENTER", "sip:127.0.0.1:5072", _parse_sip_uris),
    _Var("E911_TRUNK_TEST", "", _parse_optional_sip_uris),
    _Var("E911_TRUNK_OUTBOUND", "sip:127.0.0.1:5073", _parse_sip_uri),
    _Var("E911_TRUNK_TIMEOUT_SECONDS", "4", _parse_positive_float),
    _Var("E911_NORMAL_CALL_MODE", "redirect", _parse_enum(NormalCallMode)),
    _Var("E911_ANNOUNCE_MODE", "early", _parse_enum(AnnounceMode)),
    _Var("E911_ANNOUNCE_OVERFLOW", "shed", _parse_enum(AnnounceOverflow)),
    _Var("E911_EMERGENCY_PATH", "auto", _parse_enum(EmergencyPath)),
    _Var("E911_EMERGENCY_REQUEST_URI", "trunk", _parse_enum(EmergencyRequestUri)),
    _Var("E911_PROVIDER_NAME", "", _parse_str),
    _Var("E911_PROVIDER_CONTACT", "", _parse_str),
    _Var("E911_PROVIDER_ID", "", _parse_str),
    _Var("E911_ANNOUNCE_PATH", "worker", _parse_enum(AnnouncePath)),
    _Var("E911_ANNOUNCE_MAX", "1000", _parse_int_range(1, 100000)),
    _Var("E911_RTPENGINE_BINARY", "rtpengine", _parse_path),
    _Var("E911_RTPENGINE_NG", "127.0.0.1:2223", _parse_loopback_host_port),
    _Var("E911_RTPENGINE_PORTS", "30000-39999", _parse_port_range),
    _Var("E911_DATABASE_URL", "sqlite:///var/e911.db", _parse_database_url),
    _Var("E911_BIND_PREFIX_V4", "32", _parse_int_range(8, 32)),
    _Var("E911_BIND_PREFIX_V6", "64", _parse_int_range(16, 128)),
    _Var("E911_API_LISTEN", "127.0.0.1:8080", _parse_host_port),
    _Var("E911_ADMIN_TOKENS", "", _parse_tokens),
    _Var("E911_METRICS_LISTEN", "127.0.0.1:9911", _parse_host_port),
    _Var("E911_SMTP_URL", "smtp://127.0.0.1:8025", _parse_smtp_url),
    _Var("E911_SMTP_FROM", "e911-router@localhost", _parse_email),
    _Var("E911_NOTIFY_ON_TEST_CALLS", "false", _parse_bool),
    _Var("E911_WEBHOOK_URL", "", _parse_http_url),
    _Var("E911_WEBHOOK_SECRET", "", _parse_str),
    _Var("E911_DEFAULT_LANGUAGE", "en", _parse_enum(Language)),
    _Var("E911_PROMPTS_DIR", "config/prompts", _parse_path),
    _Var("E911_WORKERS", "2", _parse_int_range(1, 64)),
    _Var("E911_FRONT", "kamailio", _parse_enum(Front)),
    _Var("E911_WORKER_LISTEN", "127.0.0.1:5081", _parse_host_port),
    _Var("E911_KAMAILIO_BINARY", "kamailio", _parse_path),
    _Var("E911_KAMAILIO_RUN_DIR", "var/kamailio", _parse_path),
    _Var("E911_KAMAILIO_SHM_MB", "512", _parse_int_range(256, 65536)),
    _Var("E911_KAMAILIO_PKG_MB", "16", _parse_int_range(8, 1024)),
    _Var("E911_KAMAILIO_CHILDREN", "4", _parse_int_range(1, 64)),
    _Var("E911_KAMAILIO_WORKER_TIMEOUT_MS", "1000", _parse_int_range(100, 32000)),
    _Var("E911_KAMAILIO_EMERGENCY_TIMEOUT_MS", "4000", _parse_int_range(100, 32000)),
    _Var("E911_KAMAILIO_WORKER_CPS", "100", _parse_int_range(1, 100000)),
    _Var("E911_KAMAILIO_SOURCE_LIMIT", "60", _parse_int_range(0, 1000000)),
    _Var("E911_KAMAILIO_TCP_MAX_CONNECTIONS", "8192", _parse_int_range(64, 1000000)),
    _Var("E911_KAMAILIO_TCP_IDLE_SECONDS", "5", _parse_int_range(1, 3600)),
    _Var("E911_KAMAILIO_TCP_LIFETIME_SECONDS", "600", _parse_int_range(1, 86400)),
    _Var("E911_KAMAILIO_REMOTE_WORKERS", "", _parse_optional_sip_uris),
    _Var("E911_KAMAILIO_ROUTE_CACHE_SECONDS", "60", _parse_int_range(0, 3600)),
    _Var("E911_KAMAILIO_EMERGENCY_WORKERS", "auto",
         lambda n, v: _parse_emergency_workers(n, v)),
    _Var("E911_RECORD_RETENTION_DAYS", "2555", _parse_int_range(1, 36500)),
    _Var("E911_RECORDS_KEY", "", lambda n, v: _parse_records_key(n, v)),
    _Var("E911_RECORDS_KEY_FILE", "var/records.key", _parse_path),
    _Var("E911_LOG_LEVEL", "info", lambda n, v: _parse_log_level(n, v)),
    _Var("E911_LOG_FORMAT", "auto", _parse_enum(LogFormat)),
)

VARIABLES: tuple[str, ...] = tuple(v.name for v in _VARS)
"""Every variable this module reads, in documentation order (plus E911_ENV_FILE)."""


def _parse_transports(name: str, value: str) -> tuple[str, ...]:
    parts = tuple(p.lower() for p in _split(value))
    if not parts or any(p not in ("udp", "tcp") for p in parts):
        raise _fail(name, value, "must be a comma list of udp, tcp")
    if "udp" not in parts:
        raise _fail(name, value, "must include udp (trunks and SIPp use it)")
    return parts


def _parse_emergency_workers(name: str, value: str) -> int | None:
    """`auto` (None: decided once E911_WORKERS is known, `_emergency_workers`) or a count."""
    text = value.strip().lower()
    if text == "auto":
        return None
    try:
        number = int(text)
    except ValueError:
        raise _fail(name, value, "must be auto or a whole number (0 or more)") from None
    if number < 0:
        raise _fail(name, value, "must be auto or a whole number (0 or more)")
    return number


def _emergency_workers(requested: int | None, workers: int) -> int:
    """E911_KAMAILIO_EMERGENCY_WORKERS=auto: one reserved worker once there are 3 or more (two
    ordinary workers stay, so one stuck worker never leaves ordinary calls without any)."""
    if requested is None:
        return 1 if workers >= 3 else 0
    return requested


def _parse_records_key(name: str, value: str) -> str:
    key = _parse_str(name, value)
    if key and len(key) < 32:
        # Never echo the value: it is a secret (issue 13, finding 9).
        raise SettingsError(f"{name}: needs at least 32 characters (e.g. `openssl rand -hex "
                            f"32`), or leave it empty to use E911_RECORDS_KEY_FILE")
    return key


def _parse_log_level(name: str, value: str) -> str:
    level = value.strip().lower()
    if level not in ("debug", "info", "warning", "error"):
        raise _fail(name, value, "must be one of debug|info|warning|error")
    return level


@dataclass(frozen=True, slots=True)
class Settings:
    """The router's whole configuration. Units are in the names."""

    sip_listen: HostPort
    sip_transports: tuple[str, ...]
    trusted_peers: tuple[IPNetwork, ...]
    """Only these networks may send us INVITEs; anything else gets 403."""
    device_ip_header: str
    """Header a trusted PBX fills with the device's own IP ("" disables)."""
    pbx_peers: tuple[IPNetwork, ...]
    """Peers whose `device_ip_header` we believe."""
    device_ip_required: bool
    """A PBX peer's INVITE without a readable `device_ip_header` has no known device (never
    the peer's own address): set by `run` for workers behind the front, which always sends it
    (issue 13)."""
    access_prefixes: tuple[str, ...]
    extra_emergency_numbers: tuple[str, ...]
    extension_min_digits: int
    extension_max_digits: int
    trunk_psap: tuple[str, ...]
    trunk_sorting_center: tuple[str, ...]
    trunk_test: tuple[str, ...]
    """933 trunk list; defaults to `trunk_psap`."""
    trunk_outbound: str
    trunk_timeout_seconds: float
    normal_call_mode: NormalCallMode
    announce_mode: AnnounceMode
    announce_overflow: AnnounceOverflow
    """What an unlocated caller gets when no slot is free to play the prompt."""
    emergency_path: EmergencyPath
    emergency_request_uri: EmergencyRequestUri
    provider_name: str
    """RFC 7852 ProviderInfo DataProviderString (E911_EMERGENCY_REQUEST_URI=sos)."""
    provider_contact: str
    """RFC 7852 ProviderInfo ContactURI: sip:, sips: or tel: URI of the operator's NOC."""
    provider_id: str
    """RFC 7852 ProviderInfo ProviderID (e.g. the NENA company ID; "" = none issued)."""
    announce_path: AnnouncePath
    """front: Kamailio + rtpengine play "address not registered" (with E911_FRONT=kamailio)."""
    announce_max: int
    """Announcements the front plays at once; beyond: the final 403 + Reason at once."""
    rtpengine_binary: Path
    rtpengine_ng: HostPort
    """rtpengine's ng control port (loopback only); its CLI (rtpengine-ctl) listens on port + 1."""
    rtpengine_ports: tuple[int, int]
    """The RTP port range rtpengine takes announcements' media ports from (2 per call)."""
    database_url: str = field(repr=False)
    """May hold a password: print `redacted("E911_DATABASE_URL", ...)`, never the value."""
    bind_prefix_v4: int
    bind_prefix_v6: int
    api_listen: HostPort
    admin_tokens: tuple[str, ...] = field(repr=False)
    metrics_listen: HostPort
    smtp_url: str = field(repr=False)
    smtp_from: str
    notify_on_test_calls: bool
    webhook_url: str = field(repr=False)
    """May hold a token (userinfo, path or query): print `redact_url()` of it."""
    webhook_secret: str = field(repr=False)
    default_language: Language
    prompts_dir: Path
    workers: int
    front: Front
    worker_listen: HostPort
    """Worker k (1-based) listens on this host, port + k - 1, when the front is Kamailio."""
    kamailio_binary: Path
    kamailio_run_dir: Path
    """Where the rendered kamailio.cfg and dispatcher.list and Kamailio's runtime files live."""
    kamailio_shm_mb: int
    kamailio_pkg_mb: int
    kamailio_children: int
    kamailio_worker_timeout_ms: int
    """How long a worker has to answer an INVITE before Kamailio tries the next one."""
    kamailio_emergency_timeout_ms: int
    """The same for a 911/933: longer, so a 911 queued behind a burst is still answered by
    a worker (with its location) rather than sent on without it."""
    kamailio_worker_cps: int
    """Non-emergency INVITEs a second Kamailio offers each worker (emergency calls exempt)."""
    kamailio_source_limit: int
    """Requests per 2 s from one direct (non-PBX) sender before pike blocks it; 0: off."""
    kamailio_tcp_max_connections: int
    """SIP/TCP connections the front holds at once (Kamailio tcp_max_connections)."""
    kamailio_tcp_idle_seconds: int
    """How long a TCP connection may stay silent until a trusted peer's first complete
    message on it (and an untrusted one's connection after its 403): then it is closed."""
    kamailio_tcp_lifetime_seconds: int
    """How long a trusted peer's (or a dialog's) TCP connection may stay silent."""
    kamailio_remote_workers: tuple[str, ...]
    """Workers on other hosts (SIP URIs) the front also dispatches to."""
    kamailio_route_cache_seconds: int
    """How long the front routes a located caller's ordinary calls itself after a worker
    redirected one (emptied when bindings change); 0: every call goes to a worker."""
    kamailio_emergency_workers: int
    """The last this many local workers take only 911/933 from the front (their own dispatcher
    set, tried first for emergency calls); `auto` resolved: 1 when E911_WORKERS >= 3, else 0."""
    record_retention_days: int
    records_key: str = field(repr=False)
    """The call records' chain key (HMAC-SHA256, router/records/key.py); "" = the key file."""
    records_key_file: Path
    """Where the key is read from when `records_key` is empty (created by `run` if missing)."""
    log_level: str
    log_format: LogFormat

    def dialplan_config(self) -> DialPlanConfig:
        return DialPlanConfig(
            access_prefixes=self.access_prefixes,
            extra_emergency_numbers=self.extra_emergency_numbers,
            extension_min_digits=self.extension_min_digits,
            extension_max_digits=self.extension_max_digits,
        )


def _field_for(var: str) -> str:
    return var.removeprefix("E911_").lower()


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
    for var in _VARS:
        raw = env.get(var.name)
        text = var.default if raw is None else raw
        values[var.name] = var.parse(var.name, text)

    low, high = values.pop("E911_EXTENSION_DIGITS")
    kwargs = {_field_for(name): value for name, value in values.items()}
    kwargs["extension_min_digits"] = low
    kwargs["extension_max_digits"] = high
    kwargs["kamailio_emergency_workers"] = _emergency_workers(
        kwargs["kamailio_emergency_workers"], kwargs["workers"])
    if not kwargs["trunk_test"]:
        kwargs["trunk_test"] = kwargs["trunk_psap"]
    if kwargs["webhook_url"] and len(kwargs["webhook_secret"]) < 16:
        raise SettingsError("E911_WEBHOOK_SECRET: needs at least 16 characters when "
                            "E911_WEBHOOK_URL is set (deliveries are HMAC-signed)")
    settings = Settings(**kwargs)
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
