"""What the worker will do with one call, decided in `onSelectAccount` before any socket
exists (`Execution`), and carried out in `onIncomingCall` (router.sip.worker). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from router.call.decide import Routed
from router.call.front_redirect import FrontRedirect
from router.call.outcome import Result
from router.call.prompt import Prompt


class ExecutionKind(StrEnum):
    RESPOND = "respond"
    """A final response at once (302, 403, 404, 503, 400, 500): router.sip.response."""
    BRIDGE = "bridge"
    """A B2BUA to the plan's trunks: router.sip.bridge."""
    ANNOUNCE = "announce"
    """Play "address not registered" on the real-media account: router.sip.announce."""


@dataclass(frozen=True, slots=True)
class Execution:
    """What `onIncomingCall` will do with a call, decided in `onSelectAccount`."""

    kind: ExecutionKind
    routed: Routed | None
    status: int = 0
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    result: Result = Result.REJECTED
    prompt: Prompt | None = None
    front: FrontRedirect | None = None
    """Set when the emergency call is handed to the front in a 302 (issue 10)."""
