"""What a call controller is, and the few worker services it may use (`router.sip.worker.Worker`
is them; a controller logs on the call's own bound logger, given when it is made).

A controller owns one call (one caller leg, and for a bridge the trunk legs). It receives typed
leg events and timer firings from the worker and tells legs what to do. It ends by reporting one
`CallOutcome`. Timers hold controller refs, never `Call` objects.
"""

from __future__ import annotations

from typing import Protocol

import pjsua2 as pj
from structlog.typing import FilteringBoundLogger

from router.call.decide import Routed
from router.call.outcome import CallOutcome
from router.call.outgoing import OutgoingRequest
from router.sip.legs import Leg, LegState


class Services(Protocol):
    """Worker services a controller calls; every one runs on the SIP thread."""

    def now(self) -> float: ...

    def new_leg(self, owner: int, account: pj.Account) -> Leg: ...

    def loop_account(self, route: str = "") -> pj.Account: ...

    def drop_leg(self, leg: Leg) -> None: ...

    def schedule(self, owner: int, delay_seconds: float, tag: str) -> None: ...

    def defer(self, owner: int, tag: str) -> None: ...

    def request_for(self, routed: Routed, attempt_index: int) -> OutgoingRequest: ...

    def emergency_redirect(self, routed: Routed, *, log: FilteringBoundLogger | None = None
                           ) -> tuple[tuple[str, str], ...]: ...

    def finished(self, owner: int, outcome: CallOutcome) -> None: ...


class Controller(Protocol):
    ref: int

    def start(self) -> None:
        """Take the call: run on the loop, never inside onIncomingCall (router.sip.worker)."""

    def on_state(self, leg: Leg, state: LegState, status: int) -> None: ...

    def on_media(self, leg: Leg) -> None: ...

    def on_timer(self, tag: str) -> None: ...

    @property
    def done(self) -> bool: ...
