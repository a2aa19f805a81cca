"""Device registrations a trusted PBX reports, pure: RFC 3680 `reg` event bodies and plain
facts -> frozen `DeviceRegistration`s the store applies (`Store.record_registration`).

The router is no registrar (devices register with their PBX), but the DialStack behaviour
raises `network.changed` when a device *connects*, not at its first call. A PBX tells us
about a registration in one of three ways (docs/registrations.md): a `reg` event
(`application/reginfo+xml`, RFC 3680, what Kamailio's `pua_reginfo` PUBLISHes and
`presence_reginfo` NOTIFYs), a copy of the REGISTER relayed through the front, or
`POST /v1/registrations`. All three become the same `DeviceRegistration` here.

The body comes from the network, so the XML parser expands no entity, loads no DTD, reads
nothing from the network or disk, and refuses any document type declaration outright (XXE,
"billion laughs": RFC 3680 bodies never need one; UTF-8 only, so no other encoding can hide
one from that check), oversized bodies and documents with more
contacts than a PBX ever reports for a batch. No I/O and no clock here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from lxml import etree

from router.nameaddr import parse_name_addr

REGINFO_NS: Final = "urn:ietf:params:xml:ns:reginfo"
"""RFC 3680 section 5.4, the namespace of `application/reginfo+xml`."""
REGINFO_CONTENT_TYPE: Final = "application/reginfo+xml"

MAX_REGINFO_BYTES: Final = 64 * 1024
"""A full-state body for one AOR with a handful of devices is about 1 KB; 64 KiB is the API's
body limit too."""
MAX_CONTACTS: Final = 100
"""Contacts a body may report; more is refused whole rather than half applied."""
MAX_EXPIRES_SECONDS: Final = 7 * 24 * 3600
"""A registration lasting longer than this is treated as this long (a week): only how long a
network counts as "the device is still there" depends on it."""
DEFAULT_EXPIRES_SECONDS: Final = 3600
"""RFC 3261 section 10.2.1.1 suggests 3600 s when the registrar gives no expiry."""


class RegState(StrEnum):
    """What happened to one contact (device) of an address of record."""

    REGISTERED = "registered"
    UNREGISTERED = "unregistered"


@dataclass(frozen=True, slots=True)
class DeviceRegistration:
    """One device of one user, as the PBX saw it."""

    user: str
    """The AOR's user part: the extension the PBX knows the caller by (the INVITE's From user)."""
    device_ip: str
    """The device's address, canonical text: where the PBX received the REGISTER from."""
    contact: str
    """Which device of the user (the contact URI as registered): re-registrations of one
    contact are the same device."""
    state: RegState
    expires_seconds: int
    """Seconds the registration lasts from now (0 for `UNREGISTERED`)."""


@dataclass(frozen=True, slots=True)
class SkippedContact:
    """A contact of a well-formed body that names no device we can use (said, not guessed)."""

    aor: str
    reason: str
    """`invalid_aor` (no user part), `no_device_ip` (neither the received address nor the
    contact's host is an IP literal: we never resolve names)."""


@dataclass(frozen=True, slots=True)
class Reginfo:
    """A parsed `reginfo` document: the usable registrations, and what was skipped and why."""

    registrations: tuple[DeviceRegistration, ...]
    skipped: tuple[SkippedContact, ...]


class ReginfoError(ValueError):
    """The body is not a `reginfo` document we accept; `code` is stable, for API errors."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _parser() -> etree.XMLParser:
    # Every option that would make the parser reach outside the bytes it is given is off;
    # `huge_tree=False` keeps libxml2's own depth and text-size limits.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=True, recover=False)


def parse_reginfo(body: bytes) -> Reginfo:
    """The registrations of an RFC 3680 `reginfo` document; raises `ReginfoError`."""
    if len(body) > MAX_REGINFO_BYTES:
        raise ReginfoError("too_large", f"a reginfo body is at most {MAX_REGINFO_BYTES} bytes")
    if not body.strip():
        raise ReginfoError("empty", "the reginfo body is empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ReginfoError("encoding", "a reginfo body must be UTF-8") from None
    if "<!doctype" in text.lower():
        # Entity declarations are the XXE and "billion laughs" vehicles; RFC 3680 needs none.
        # Refused before libxml2 sees them, and checked again on the parsed tree below.
        raise ReginfoError("doctype", "a document type declaration is not accepted")
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise ReginfoError("malformed", f"not well-formed XML: {exc.msg}") from None
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise ReginfoError("doctype", "a document type declaration is not accepted")
    if root.tag != f"{{{REGINFO_NS}}}reginfo":
        raise ReginfoError("not_reginfo",
                           f"the root element must be reginfo in namespace {REGINFO_NS}")
    found: list[DeviceRegistration] = []
    skipped: list[SkippedContact] = []
    contacts = 0
    for registration in root.iterfind(f"{{{REGINFO_NS}}}registration"):
        aor = registration.get("aor", "")
        user = parse_name_addr(aor).user if aor else ""
        # RFC 3680 s5.3: a registration in state "terminated" has no active contact.
        reg_terminated = registration.get("state") == "terminated"
        for contact in registration.iterfind(f"{{{REGINFO_NS}}}contact"):
            contacts += 1
            if contacts > MAX_CONTACTS:
                raise ReginfoError("contact_limit",
                                   f"a reginfo body may report at most {MAX_CONTACTS} contacts")
            if not user:
                skipped.append(SkippedContact(aor[:128], "invalid_aor"))
                continue
            parsed = _contact(user, contact, reg_terminated)
            if parsed is None:
                skipped.append(SkippedContact(aor[:128], "no_device_ip"))
            else:
                found.append(parsed)
    return Reginfo(tuple(found), tuple(skipped))


def _contact(user: str, contact: etree._Element, reg_terminated: bool
             ) -> DeviceRegistration | None:
    uri = (contact.findtext(f"{{{REGINFO_NS}}}uri") or "").strip()
    # Kamailio's pua_reginfo writes the NAT-seen source as a `received` attribute; RFC 3680
    # section 5.4 carries extra contact parameters as <unknown-param name="received">.
    received = contact.get("received", "").strip()
    if not received:
        for param in contact.iterfind(f"{{{REGINFO_NS}}}unknown-param"):
            if param.get("name") == "received":
                received = (param.text or "").strip()
    device = uri_ip(received) if received else None
    if device is None:
        device = uri_ip(uri)
    if device is None:
        return None
    expires = parse_expires(contact.get("expires"))
    # RFC 3680 s5.3: "terminated" contacts are gone (unregistered, expired, deactivated,
    # rejected); an expiry of 0 is a removal as in a REGISTER (RFC 3261 s10.2.2).
    gone = reg_terminated or contact.get("state") == "terminated" or expires == 0
    return DeviceRegistration(
        user=user, device_ip=device, contact=uri or received,
        state=RegState.UNREGISTERED if gone else RegState.REGISTERED,
        expires_seconds=0 if gone else expires)


def parse_expires(value: str | None) -> int:
    """An `expires` value (attribute, parameter or header): seconds, clamped to a week;
    absent or unreadable is the RFC 3261 default."""
    if value is None or not value.strip().isdigit():
        return DEFAULT_EXPIRES_SECONDS
    return min(int(value.strip()), MAX_EXPIRES_SECONDS)


def uri_ip(uri: str) -> str | None:
    """The host of a SIP URI (`sip:1001@192.0.2.7:5060;transport=udp`, `sip:[2001:db8::1]`,
    `<sip:...>`) as canonical IP text, or None when the host is a name (never resolved)."""
    parsed = parse_name_addr(uri)
    host = parsed.host.strip() if parsed.host else ""
    if not host:
        return None
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
