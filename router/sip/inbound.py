"""Ingress: one received INVITE -> frozen `InboundCall` facts, and the trusted-peer check.

Pure text parsing of the message pjsua2 hands us (`SipRxData.wholeMsg`), so the decision made in
`Endpoint.onSelectAccount` (before any RTP socket exists) needs nothing from pjsua2 but two
strings. This module does not import pjsua2: `tests/unit` may use it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# RFC 3261 s7.3.3: compact header forms.
_COMPACT = {"f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
            "c": "content-type", "v": "via", "k": "supported", "s": "subject", "e":
            "content-encoding"}

_NAME_ADDR = re.compile(
    r'^\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^<"]*?))\s*<(?P<uri>[^>]*)>')
_URI_USER = re.compile(r"^(?:sips?|tel):(?:(?P<user>[^@;?>]*)@)?(?P<host>[^;?>]*)", re.I)


class IngressError(ValueError):
    """The INVITE cannot be understood; the caller gets `status` (RFC 3261 s21.4.1: 400)."""

    status = 400


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A From / P-Asserted-Identity value (RFC 3261 s25.1 name-addr)."""

    display_name: str
    uri: str
    user: str
    host: str


@dataclass(frozen=True, slots=True)
class InboundCall:
    """What we know about one INVITE before we decide anything. Never holds pjsua2 objects."""

    call_id: str
    request_uri: str
    """The Request-URI as received (RFC 3261 s8.1.1.1): what was dialled."""
    dialed: str
    """The Request-URI user part (or the whole URI for `urn:service:sos`): the dial string."""
    caller: NameAddr
    """The caller: P-Asserted-Identity when the peer sent one (RFC 3325 s9.1), else From."""
    from_user: str
    """The From user: the extension the PBX knows the caller by."""
    source_ip: IPAddress
    source_port: int
    device_ip: IPAddress
    """The device's network address: the source, or from a PBX peer the device-IP header."""
    content_type: str
    body: str
    """The SDP offer (or whatever body came), passed byte for byte to a bridged leg."""

    @property
    def source(self) -> str:
        host = f"[{self.source_ip}]" if self.source_ip.version == 6 else str(self.source_ip)
        return f"{host}:{self.source_port}"


def split_message(whole_msg: str) -> tuple[str, list[tuple[str, str]], str]:
    """(start line, [(lower-case full header name, value)], body) of one SIP message."""
    head, sep, body = whole_msg.partition("\r\n\r\n")
    if not sep:
        head, _, body = whole_msg.partition("\n\n")
    lines = head.replace("\r\n", "\n").split("\n")
    start = lines[0].strip()
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            # RFC 3261 s7.3.1: a continuation line folds into the previous header value.
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon:
            continue
        key = name.strip().lower()
        headers.append((_COMPACT.get(key, key), value.strip()))
    return start, headers, body


def header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of header `name` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in headers:
        if key == wanted:
            return value
    return None


def parse_name_addr(value: str) -> NameAddr:
    """Parse a From/PAI/Contact value: `"Name" <sip:user@host>;tag=x` or `sip:user@host;tag=x`."""
    match = _NAME_ADDR.match(value)
    if match:
        display = match.group("quoted")
        if display is None:
            display = (match.group("token") or "").strip()
        else:
            display = re.sub(r"\\(.)", r"\1", display)
        uri = match.group("uri").strip()
    else:
        display = ""
        uri = value.split(";", 1)[0].strip()
    user_match = _URI_USER.match(uri)
    if not user_match:
        return NameAddr(display, uri, "", "")
    return NameAddr(display, uri, user_match.group("user") or "", user_match.group("host") or "")


def parse_source(src_address: str) -> tuple[IPAddress, int]:
    """pjsua2's `SipRxData.srcAddress` ("127.0.0.1:5070", "[::1]:5070") -> (ip, port)."""
    text = src_address.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, _, port = text.rpartition(":")
    try:
        return ipaddress.ip_address(host), int(port)
    except ValueError:
        raise IngressError(f"unreadable source address {src_address!r}") from None


def is_trusted(ip: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def parse_invite(
    whole_msg: str,
    src_address: str,
    *,
    pbx_peers: Iterable[IPNetwork] = (),
    device_ip_header: str = "",
) -> InboundCall:
    """The frozen facts of one INVITE. Raises `IngressError` when it cannot be understood."""
    start, headers, body = split_message(whole_msg)
    parts = start.split()
    if len(parts) != 3 or parts[0] != "INVITE" or not parts[2].upper().startswith("SIP/"):
        raise IngressError("not an INVITE request line")
    request_uri = parts[1]
    call_id = header(headers, "call-id")
    from_value = header(headers, "from")
    if not call_id or from_value is None:
        raise IngressError("INVITE without Call-ID or From")
    from_addr = parse_name_addr(from_value)
    pai = header(headers, "p-asserted-identity")
    caller = parse_name_addr(pai) if pai else from_addr
    source_ip, source_port = parse_source(src_address)
    device_ip: IPAddress = source_ip
    if device_ip_header and is_trusted(source_ip, pbx_peers):
        claimed = header(headers, device_ip_header)
        if claimed:
            try:
                device_ip = ipaddress.ip_address(claimed.strip())
            except ValueError:
                # A PBX bug must not cost the call: fall back to the source address.
                device_ip = source_ip
    return InboundCall(
        call_id=call_id,
        request_uri=request_uri,
        dialed=dial_string(request_uri),
        caller=caller,
        from_user=from_addr.user,
        source_ip=source_ip,
        source_port=source_port,
        device_ip=device_ip,
        content_type=(header(headers, "content-type") or "").lower(),
        body=body,
    )


def dial_string(request_uri: str) -> str:
    """The Request-URI user (RFC 3261 s19.1.1), or the whole URN for `urn:service:sos`
    (RFC 5031)."""
    if request_uri.lower().startswith("urn:"):
        return request_uri
    match = _URI_USER.match(request_uri)
    if not match:
        return request_uri
    return match.group("user") or ""
