"""The emergency 302 for the front path (issue 10). Pure: no pjsua2, no I/O.

A worker holds at most 2 emergency bridges. When it has none free (E911_EMERGENCY_PATH=auto)
or always (front), it answers the emergency INVITE with a 302 whose one Contact is the first
emergency route of the plan, and hands the front (Kamailio) what the outgoing INVITE needs in
private headers:

    Contact            <sip:911@psap-trunk>       the first attempt (RFC 3261 s21.3.3)
    X-E911-Route       psap | sorting_center | test      marks a front 302 (the purpose)
    X-E911-Call-Ref    16 hex digits               names the call in both logs; Kamailio makes
                                                   the PIDF-LO Content-ID from it (RFC 2392)
    X-E911-PAI         "Name" <sip:+1...;user=phone>   the P-Asserted-Identity (RFC 3325);
                       absent when no callback number is known
    X-E911-PIDF        base64 (RFC 4648 s4) of the PIDF-LO bytes, as the bridge would send it;
                       present for every located caller, with or without X-E911-PAI
    X-E911-Fallback    the further trunks of the same purpose, comma separated
    X-E911-SDP         base64 of the caller's SDP offer with our RFC 8373 hlang lines, as
                       the bridge forwards it (absent when the INVITE had no SDP)

Kamailio follows the 302 (RFC 3261 s16.7 step 4), builds PAI, Priority, Geolocation,
Geolocation-Routing and the multipart/mixed body, and strips every X-E911-* header, so they
reach neither the caller nor a trunk. Without a front (the 302 reaches a PBX), the PBX sends
the call to the Contact: the emergency route, without location; the carrier then routes it on
the caller's number (ANI), as it does for any call that carries no location.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from router.call.decide import Routed
from router.call.outgoing import OutgoingRequest
from router.call.plan import Purpose
from router.call.size import SEND_BUDGET_BYTES, response_size
from router.call.trunk_request import build_request, pidf_of
from router.hlang import add_hlang

ROUTE = "X-E911-Route"
CALL_REF = "X-E911-Call-Ref"
PAI = "X-E911-PAI"
PIDF = "X-E911-PIDF"
FALLBACK = "X-E911-Fallback"
SDP = "X-E911-SDP"


@dataclass(frozen=True, slots=True)
class FrontRedirect:
    """The 302's headers and what the call record keeps of it."""

    headers: tuple[tuple[str, str], ...]
    """Contact first (exactly one), then the X-E911-* headers."""
    contact: str
    purpose: Purpose
    call_ref: str
    pidf_lo: str
    """The PIDF-LO handed to the front ("" when none)."""
    left_out: tuple[str, ...] = ()
    """X-E911-* headers left out so the 302 fits the wheel's send limit (router.call.size):
    X-E911-SDP first (Kamailio then sends the caller's own body), then X-E911-Fallback."""


def front_redirect(routed: Routed, *, host: str, call_ref: str | None = None,
                   budget: int = SEND_BUDGET_BYTES) -> FrontRedirect:
    """The 302 for `routed` (an emergency plan with at least one attempt), at most `budget`
    bytes: a 302 PJSUA cannot build (PJSIP_EMSGTOOLONG) would leave the caller with nothing.
    What does not fit is left out in the order of `_DROPPABLE`; the PIDF-LO goes last."""
    plan = routed.plan
    first = plan.attempts[0]
    request: OutgoingRequest = build_request(routed, 0, host=host)
    ref = call_ref if call_ref is not None else secrets.token_hex(8)
    headers: list[tuple[str, str]] = [
        ("Contact", f"<{request.uri}>"),
        (ROUTE, first.purpose.value),
        (CALL_REF, ref),
    ]
    identity = next((v for n, v in request.headers if n.lower() == "p-asserted-identity"), "")
    if identity:
        headers.append((PAI, identity))
    pidf = pidf_of(request)
    if pidf:
        headers.append((PIDF, base64.b64encode(pidf.encode("utf-8")).decode("ascii")))
    if first.purpose in (Purpose.PSAP, Purpose.TEST):
        # The sorting center after the PSAPs is Kamailio's own list (E911_TRUNK_SORTING_CENTER).
        more = [build_request(routed, k, host=host).uri
                for k, attempt in enumerate(plan.attempts[1:], start=1)
                if attempt.purpose is first.purpose]
        if more:
            headers.append((FALLBACK, ",".join(more)))
    offer = routed.inbound.body
    if offer and "sdp" in routed.inbound.content_type and routed.inbound.body_whole:
        with_language = add_hlang(offer, plan.language.value)
        headers.append((SDP, base64.b64encode(with_language.encode("utf-8")).decode("ascii")))
    left_out: list[str] = []
    echoed = routed.inbound.echoed_bytes
    for name in _DROPPABLE:
        if response_size(echoed, tuple(headers)) <= budget:
            break
        if any(n == name for n, _ in headers):
            headers = [(n, v) for n, v in headers if n != name]
            left_out.append(name)
    if PIDF in left_out:
        pidf = ""
    return FrontRedirect(tuple(headers), request.uri, first.purpose, ref, pidf, tuple(left_out))


_DROPPABLE = (SDP, FALLBACK, PIDF)
"""Without X-E911-SDP Kamailio sends the caller's own SDP (no RFC 8373 hlang lines); without
X-E911-Fallback it goes from the first trunk to the sorting center; without X-E911-PIDF the
call has no location (never in practice: only a caller whose Via/From/To alone take most of
the 4,000 bytes)."""
