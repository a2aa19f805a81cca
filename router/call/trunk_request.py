"""The outgoing INVITE for one route attempt, as data (`OutgoingRequest`). Pure.

Emergency and test attempts carry what `router.call.emergency_invite` builds (RFC 6881 s9):
`P-Asserted-Identity` with the callback number (none when no number is known), `Priority:
emergency`, and with a location `Geolocation: <cid:...>`, `Geolocation-Routing: yes` and the
PIDF-LO part: a located 911 carries its location whether or not a callback number exists.
The SDP offer (the caller's, with RFC 8373 hlang lines) is added by the bridge leg.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from router.call.additional_data import ProviderIdentity
from router.call.decide import Routed
from router.call.emergency_invite import (
    CallbackIdentity,
    RequestUriMode,
    build_emergency_invite,
    nanp_e164,
    trunk_request_uri,
)
from router.call.outcome import CallFacts
from router.call.outgoing import BodyPart, OutgoingRequest
from router.call.plan import Purpose
from router.pidf import to_pidf

_LANG_TAGS = {"en": "en-US", "es": "es-US", "fr": "fr-CA"}


def build_request(routed: Routed, attempt_index: int, *, host: str,
                  now: datetime | None = None,
                  request_uri_mode: RequestUriMode = RequestUriMode.TRUNK,
                  provider: ProviderIdentity | None = None) -> OutgoingRequest:
    """`host` is our SIP host: the P-Asserted-Identity and Content-ID domain.
    `request_uri_mode` SOS (E911_EMERGENCY_REQUEST_URI=sos, with `provider`): a 911 to a PSAP
    trunk (an NG911 ESInet) goes to urn:service:sos with RFC 7852 additional data; sorting
    center, 933 and outbound attempts keep their carrier form."""
    plan = routed.plan
    attempt = plan.attempts[attempt_index]
    if attempt.purpose is Purpose.OUTBOUND:
        return OutgoingRequest(trunk_request_uri(attempt.trunk, attempt.user))
    if attempt.purpose is not Purpose.PSAP:
        request_uri_mode = RequestUriMode.TRUNK
    number = callback_number(routed)
    pidf: bytes | None = None
    if plan.location is not None and attempt.purpose is not Purpose.SORTING_CENTER:
        # RFC 3863 s4.1.2 / RFC 4479 s3.1: entity names the presentity (the Target). With no
        # number there is no URI of the caller to give; "unknown" at our host says exactly
        # that, and dm:deviceID still tells the device apart (RFC 4479 s3.4.1).
        entity_user = number or "unknown"
        pidf = to_pidf(
            plan.location.civic,
            entity=f"pres:{entity_user}@{host}",
            device_id=device_urn(routed),
            timestamp=now or datetime.now(UTC),
            lang=_LANG_TAGS.get(plan.language.value, "en-US"),
        )
    # No callback number anywhere: no P-Asserted-Identity, but the location and everything
    # else still go; the trunk routes on what it has, and a 911 is never dropped.
    callback = CallbackIdentity(
        display_name=plan.callback.display_name if plan.callback else "",
        number=number, host=host) if number else None
    content = build_emergency_invite(
        callback=callback,
        host=host,
        trunk_uri=attempt.trunk,
        language=plan.language.value,
        dialled_user=attempt.user,
        pidf=pidf,
        request_uri_mode=request_uri_mode,
        provider=provider,
    )
    parts = tuple(BodyPart(p.media_type, _crlf(p.body), p.headers) for p in content.parts)
    return OutgoingRequest(content.request_uri, content.headers, parts, route=content.route)


def callback_number(routed: Routed) -> str:
    """The configured callback number, else the caller's own asserted number when it is a
    NANP number (a PBX usually asserts the DID), else ""."""
    candidates = []
    if routed.plan.callback is not None and routed.plan.callback.number:
        candidates.append(routed.plan.callback.number)
    candidates.append(routed.inbound.caller.user)
    for candidate in candidates:
        try:
            return nanp_e164(candidate)
        except ValueError:
            continue
    return ""


def call_facts(routed: Routed) -> CallFacts:
    """The caller's side of the call record (`CallOutcome.facts`)."""
    location = routed.plan.location
    return CallFacts(
        dialed=routed.inbound.dialed,
        account_id=routed.account_id,
        sip_user=routed.inbound.from_user or routed.inbound.caller.user,
        sip_call_id=routed.inbound.call_id,
        location_id=(location.address_id or location.network_id or "") if location else "",
        callback_number=callback_number(routed),
    )


def pidf_of(request: OutgoingRequest) -> str:
    """The PIDF-LO part of an outgoing INVITE, exactly as sent ("" when it has none)."""
    return next((p.body for p in request.parts if p.content_type == "application/pidf+xml"), "")


def device_urn(routed: Routed) -> str:
    """A stable device identifier (RFC 4479 s3.4.1) that reveals nothing: a name-based UUID of
    the account and SIP user."""
    user = routed.inbound.from_user or routed.inbound.caller.user
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'e911:{routed.account_id}:{user}')}"


def _crlf(text: str) -> str:
    """MIME canonical form (RFC 2046 s4.1.1): text parts of a multipart body use CRLF line
    ends, as the SDP part pjsua2 adds does; XML reads CRLF as LF (XML 1.0 s2.11)."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n")
