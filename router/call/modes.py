"""How the router handles a call, chosen per deployment: the E911_* call-handling modes.

Each is read by router/settings.py (E911_NORMAL_CALL_MODE, E911_ANNOUNCE_MODE, ...) and acted on
by the call pipeline (router/call/plan.py, router/sip/, router/kamailio/). docs/front-path.md,
docs/announcements.md and docs/pidf-lo.md describe them.
"""

from __future__ import annotations

from enum import StrEnum


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
