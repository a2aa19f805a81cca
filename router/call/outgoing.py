"""What one outgoing INVITE carries, as plain data; `legs.tx_option` turns it into pjsua2's
`SipTxOption`. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One part of a `multipart/mixed` body (RFC 5621); pjsua2 appends the SDP after ours."""

    content_type: str
    """`type/subtype`, e.g. `application/pidf+xml`."""
    body: str
    headers: tuple[tuple[str, str], ...] = ()
    """Part headers, e.g. (("Content-ID", "<loc1@example>"),) (RFC 6442 s4.1)."""


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    uri: str
    headers: tuple[tuple[str, str], ...] = ()
    parts: tuple[BodyPart, ...] = ()
    route: str = ""
    """`<sip:trunk;lr>` when `uri` is a service URN (urn:service:sos): the INVITE goes there
    (RFC 3261 s8.1.2); the bridge sends it from the account whose route set this is."""
