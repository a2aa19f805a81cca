"""How the text of an E911_* variable becomes a typed value, or a `SettingsError` naming it.

Every parser takes the variable's name and its text (as written in `.env` or the environment)
and returns the value its `Settings` field holds (router/settings.py declares which parser each
variable has). A bad value stops startup with one line: `NAME='value': why`, the value
redacted (router/redaction.py) so no secret reaches a terminal or a log.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from router.redaction import redacted

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

E = TypeVar("E", bound=Enum)


class SettingsError(ValueError):
    """A setting is missing or invalid. The message names the variable; print it as is."""


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _fail(name: str, value: str, why: str) -> SettingsError:
    # Never the secret itself: config check prints this line (issue 13, finding 9).
    return SettingsError(f"{name}={redacted(name, value)!r}: {why}")


def parse_str(name: str, value: str) -> str:
    if any(c in value for c in "\r\n\x00"):
        raise _fail(name, value, "must not contain line breaks or NUL")
    return value.strip()


def parse_int_range(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise _fail(name, value, "must be a whole number") from None
        if not low <= number <= high:
            raise _fail(name, value, f"must be between {low} and {high}")
        return number

    return parse


def parse_positive_float(name: str, value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise _fail(name, value, "must be a number") from None
    if not 0 < number <= 3600:
        raise _fail(name, value, "must be greater than 0 and at most 3600")
    return number


def parse_bool(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise _fail(name, value, "must be true or false")


def parse_enum(enum: type[E]) -> Callable[[str, str], E]:
    def parse(name: str, value: str) -> E:
        try:
            return enum(value.strip().lower())
        except ValueError:
            choices = "|".join(str(m.value) for m in enum)
            raise _fail(name, value, f"must be one of {choices}") from None

    return parse


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_host_port(name: str, value: str) -> HostPort:
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


def parse_loopback_host_port(name: str, value: str) -> HostPort:
    """A control port nobody else may reach: 127.0.0.0/8 or ::1 only."""
    address = parse_host_port(name, value)
    try:
        loopback = ipaddress.ip_address(address.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise _fail(name, value, "must be a loopback address (127.0.0.1 or [::1]) and a port")
    return address


def parse_port_range(name: str, value: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", value)
    if not match:
        raise _fail(name, value, "must be LOW-HIGH (e.g. 30000-39999)")
    low, high = int(match.group(1)), int(match.group(2))
    if not 1024 <= low < high <= 65535 or high - low < 3:
        raise _fail(name, value, "must be two ports 1024-65535, LOW < HIGH, at least 4 apart")
    return low, high


def parse_networks(name: str, value: str) -> tuple[IPNetwork, ...]:
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


def parse_sip_uri(name: str, value: str) -> str:
    text = value.strip()
    match = _SIP_URI.fullmatch(text)
    if not match:
        raise _fail(name, value, f"{text!r} is not a SIP URI (sip:host[:port][;params])")
    port = match.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise _fail(name, value, "port must be between 1 and 65535")
    return text


def parse_sip_uris(name: str, value: str) -> tuple[str, ...]:
    uris = tuple(parse_sip_uri(name, part) for part in _split(value))
    if not uris:
        raise _fail(name, value, "needs at least one SIP URI")
    return uris


def parse_optional_sip_uris(name: str, value: str) -> tuple[str, ...]:
    return parse_sip_uris(name, value) if value.strip() else ()


def parse_digit_strings(name: str, value: str) -> tuple[str, ...]:
    parts = tuple(_split(value))
    for part in parts:
        if not part.isdigit():
            raise _fail(name, value, f"{part!r} is not a digit string")
    return parts


def parse_database_url(name: str, value: str) -> str:
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


def parse_http_url(name: str, value: str) -> str:
    text = value.strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(name, value, "must be an http:// or https:// URL")
    return text


def parse_smtp_url(name: str, value: str) -> str:
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


def parse_email(name: str, value: str) -> str:
    text = value.strip()
    if not re.fullmatch(r"[^@\s<>\"]+@[^@\s<>\"]+", text):
        raise _fail(name, value, "must be an e-mail address")
    return text


def parse_tokens(name: str, value: str) -> tuple[str, ...]:
    tokens = tuple(_split(value))
    for token in tokens:
        if len(token) < 16 or not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", token):
            raise _fail(name, "<hidden>", "each token needs at least 16 characters of "
                                          "[A-Za-z0-9._~+/=-]")
    return tokens


def parse_header_name(name: str, value: str) -> str:
    text = value.strip()
    if text and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", text):
        raise _fail(name, value, "must be a SIP header name (letters, digits, '-')")
    return text


def parse_extension_digits(name: str, value: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", value)
    if not match:
        raise _fail(name, value, "must be MIN-MAX, e.g. 2-6")
    low, high = int(match.group(1)), int(match.group(2))
    if not 1 <= low <= high <= 9:
        raise _fail(name, value, "must satisfy 1 <= MIN <= MAX <= 9")
    return low, high


def parse_path(name: str, value: str) -> Path:
    return Path(parse_str(name, value))


def parse_transports(name: str, value: str) -> tuple[str, ...]:
    parts = tuple(p.lower() for p in _split(value))
    if not parts or any(p not in ("udp", "tcp") for p in parts):
        raise _fail(name, value, "must be a comma list of udp, tcp")
    if "udp" not in parts:
        raise _fail(name, value, "must include udp (trunks and SIPp use it)")
    return parts


def parse_emergency_workers(name: str, value: str) -> int | None:
    """`auto` (None: decided once E911_WORKERS is known, router/settings.py) or a count."""
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


def parse_records_key(name: str, value: str) -> str:
    key = parse_str(name, value)
    if key and len(key) < 32:
        # Never echo the value: it is a secret (issue 13, finding 9).
        raise SettingsError(f"{name}: needs at least 32 characters (e.g. `openssl rand -hex "
                            f"32`), or leave it empty to use E911_RECORDS_KEY_FILE")
    return key


def parse_log_level(name: str, value: str) -> str:
    level = value.strip().lower()
    if level not in ("debug", "info", "warning", "error"):
        raise _fail(name, value, "must be one of debug|info|warning|error")
    return level
