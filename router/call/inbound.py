"""Ingress: one received INVITE -> frozen `InboundCall` facts, and the trusted-peer check.

Pure text parsing of the message pjsua2 hands us (`SipRxData.wholeMsg`), so the decision made in
`Endpoint.onSelectAccount` (before any RTP socket exists) needs nothing from pjsua2 but two
strings. This module does not import pjsua2: `tests/unit` may use it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from router.nameaddr import URI_USER, NameAddr, parse_name_addr

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# RFC 3261 s7.3.3: compact header forms.
_COMPACT = {"f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
            "c": "content-type", "v": "via", "k": "supported", "s": "subject", "e":
            "content-encoding"}



class IngressError(ValueError):
    """The INVITE cannot be understood; the caller gets `status` (RFC 3261 s21.4.1: 400)."""

    status = 400


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
    device_ip: IPAddress | None
    """The device's network address: the source, or from a PBX peer the device-IP header.
    None when it cannot be known (issue 13): the header is required from this peer (the front)
    and missing or unreadable, or the message was cut before it. Never guessed: no location
    is looked up for an unknown device."""
    content_type: str
    body: str
    """The SDP offer (or whatever body came), passed byte for byte to a bridged leg."""
    truncated: bool = False
    """Content-Length says more body than arrived: the wheel read only the first
    `MAX_READ_BYTES` of the datagram (docs/sip-worker.md, "Message size")."""
    echoed_bytes: int = 0
    """The length of the header lines a response repeats (Via, Record-Route, From, To,
    Call-ID, CSeq: RFC 3261 s8.2.6.2), for sizing our 302 (router.call.size)."""
    body_withheld: bool = False
    """The front kept the body (and padding headers) back because the whole INVITE would not
    fit what we read (`X-E911-Body: withheld`, from the front only): only the front can carry
    this call's media offer."""
    view_seq: int | None = None
    """The store's `change_seq` the front decided this call with (`X-E911-View-Seq`, from the
    front only, issue 19): the worker's view must be at least that fresh to decide it, so a
    call placed after a binding change never gets the old decision from a worker either."""

    @property
    def body_whole(self) -> bool:
        """We have the caller's body exactly as sent (it can be bridged byte for byte)."""
        return not self.truncated and not self.body_withheld

    @property
    def source(self) -> str:
        host = f"[{self.source_ip}]" if self.source_ip.version == 6 else str(self.source_ip)
        return f"{host}:{self.source_port}"


MAX_READ_BYTES = 4000
"""PJSIP_MAX_PKT_LEN of the pjsua2-python 2.15.1 wheel, measured: a UDP message of up to 4,000
bytes is read whole, a longer one only up to its 4,000th byte (the rest is lost), and a message
PJSIP builds (a request or a response) fails PJSIP_EMSGTOOLONG from about 3,995 bytes."""

_ECHOED = frozenset(("via", "record-route", "from", "to", "call-id", "cseq"))

BODY_MARKER = "X-E911-Body"
"""`X-E911-Body: withheld` from the front: the body was kept back (route BRANCH)."""

VIEW_SEQ_HEADER = "X-E911-View-Seq"
"""From the front (route BRANCH): the `change_seq` its own decision saw (issue 19)."""


def head_and_body(whole_msg: str) -> tuple[str, str]:
    """The header part and the body of one SIP message, split at the empty line (RFC 3261
    s7.4; a bare LF line end is tolerated). No empty line: everything is head."""
    head, sep, body = whole_msg.partition("\r\n\r\n")
    if not sep:
        head, _, body = whole_msg.partition("\n\n")
    return head, body


def split_message(whole_msg: str) -> tuple[str, list[tuple[str, str]], str]:
    """(start line, [(lower-case full header name, value)], body) of one SIP message."""
    head, body = head_and_body(whole_msg)
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
    device_ip_required: bool = False,
) -> InboundCall:
    """The frozen facts of one INVITE. Raises `IngressError` when it cannot be understood.

    From a PBX peer the device is what `device_ip_header` names. With `device_ip_required`
    (workers behind the front, which always inserts it at the top) a PBX peer's INVITE without
    a readable header has no known device (None): the peer's own address is never taken for
    the device's (issue 13: a caller claiming a user bound to the front's address got that
    user's location). A truncated message is never guessed about either."""
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
    truncated = _truncated(whole_msg, headers, body)
    from_pbx = bool(device_ip_header) and is_trusted(source_ip, pbx_peers)
    device_ip: IPAddress | None = source_ip
    if from_pbx:
        claimed = header(headers, device_ip_header)
        if claimed:
            try:
                device_ip = ipaddress.ip_address(claimed.strip())
            except ValueError:
                # Unreadable: never another device's location. Without a front a PBX bug must
                # not cost the call's location either way: the source, as before.
                device_ip = None if device_ip_required or truncated else source_ip
        elif device_ip_required or truncated:
            device_ip = None
    withheld = from_pbx and (header(headers, BODY_MARKER.lower()) or "").lower() == "withheld"
    seen = header(headers, VIEW_SEQ_HEADER.lower()) if from_pbx else None
    view_seq = int(seen) if seen is not None and seen.strip().isdigit() else None
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
        truncated=truncated,
        echoed_bytes=sum(len(name) + len(value) + 4 for name, value in headers
                         if name in _ECHOED),
        body_withheld=withheld,
        view_seq=view_seq,
    )


def _truncated(whole_msg: str, headers: list[tuple[str, str]], body: str) -> bool:
    """The message was cut: no empty line ends its headers (RFC 3261 s7), or Content-Length
    (s20.14) says more body than we got."""
    if "\r\n\r\n" not in whole_msg and "\n\n" not in whole_msg:
        return True
    value = header(headers, "content-length")
    if value is None:
        return False
    try:
        length = int(value.strip())
    except ValueError:
        return True
    return length > len(body.encode("utf-8", errors="surrogateescape"))


def dial_string(request_uri: str) -> str:
    """The Request-URI user (RFC 3261 s19.1.1), or the whole URN for `urn:service:sos`
    (RFC 5031)."""
    if request_uri.lower().startswith("urn:"):
        return request_uri
    match = URI_USER.match(request_uri)
    if not match:
        return request_uri
    return match.group("user") or ""
