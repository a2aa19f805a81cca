"""What a call controller is, and the few worker services it may use.

A controller owns one call (one caller leg, and for a bridge the trunk legs). It receives typed
leg events and timer firings from the worker and tells legs what to do. It ends by reporting one
`CallOutcome`. Timers hold controller refs, never `Call` objects.
"""

from __future__ import annotations

from typing import Protocol

import pjsua2 as pj

from router.sip.legs import Leg, LegState
from router.sip.outcome import CallOutcome
from router.sip.outgoing import OutgoingRequest
from router.sip.route import Routed


class Services(Protocol):
    """Worker services a controller calls; every one runs on the SIP thread."""

    def now(self) -> float: ...

    def new_leg(self, owner: int, account: pj.Account) -> Leg: ...

    def loop_account(self, route: str = "") -> pj.Account: ...

    def drop_leg(self, leg: Leg) -> None: ...

    def schedule(self, owner: int, delay_seconds: float, tag: str) -> None: ...

    def defer(self, owner: int, tag: str) -> None: ...

    def request_for(self, routed: Routed, attempt_index: int) -> OutgoingRequest: ...

    def emergency_redirect(self, routed: Routed) -> tuple[tuple[str, str], ...]: ...

    def finished(self, owner: int, outcome: CallOutcome) -> None: ...

    def log(self, event: str, **fields: object) -> None: ...


class Controller(Protocol):
    ref: int

    def start(self) -> None:
        """Take the call: run on the loop, never inside onIncomingCall (router.sip.worker)."""

    def on_state(self, leg: Leg, state: LegState, status: int) -> None: ...

    def on_media(self, leg: Leg) -> None: ...

    def on_timer(self, tag: str) -> None: ...

    @property
    def done(self) -> bool: ...
