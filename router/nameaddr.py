"""SIP name-addr text (RFC 3261 s25.1): the display name, URI, user and host of a From,
P-Asserted-Identity or Contact value. Pure text parsing, shared by the call pipeline
(`router.call.inbound`) and what REGISTER tells us (`router.location.registrations`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME_ADDR = re.compile(
    r'^\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^<"]*?))\s*<(?P<uri>[^>]*)>')
URI_USER = re.compile(r"^(?:sips?|tel):(?:(?P<user>[^@;?>]*)@)?(?P<host>[^;?>]*)", re.I)
"""The user and host of a sip:, sips: or tel: URI."""


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A From / P-Asserted-Identity value (RFC 3261 s25.1 name-addr)."""

    display_name: str
    uri: str
    user: str
    host: str


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
    user_match = URI_USER.match(uri)
    if not user_match:
        return NameAddr(display, uri, "", "")
    return NameAddr(display, uri, user_match.group("user") or "", user_match.group("host") or "")
