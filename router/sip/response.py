"""The controller of a call answered at once with a final response (302, 403, 404, 503, 400,
500): one answer, then the one `CallOutcome` when the leg has ended."""

from __future__ import annotations

import pjsua2 as pj
from structlog.typing import FilteringBoundLogger

from dialplan import CallClass
from router.call.execution import Execution
from router.call.outcome import CallFacts, CallOutcome, CallPath
from router.call.plan import Action
from router.call.trunk_request import call_facts
from router.sip.control import Services
from router.sip.legs import Leg, LegState, call_param


class Response:
    """A call answered at once with a final response (302, 403, 404, 503, 400)."""

    def __init__(self, ref: int, services: Services, execution: Execution, leg: Leg, *,
                 log: FilteringBoundLogger, call_ref: str, invite_at: float) -> None:
        self.ref = ref
        self._svc = services
        self._log = log
        self._execution = execution
        self._leg = leg
        self._reported = False
        self._call_ref = call_ref
        self._invite_at = invite_at
        self._answered_at = 0.0

    @property
    def done(self) -> bool:
        return self._leg.ended

    def start(self) -> None:
        ex = self._execution
        # Noted before: a final answer disconnects the leg inside `answer()` (on_state runs).
        self._answered_at = self._svc.now()
        try:
            self._leg.answer(call_param(ex.status, headers=ex.headers, reason=ex.reason))
        except pj.Error as exc:
            self._log.info("e911.response.failed", status=ex.status, error=exc.reason)

    def on_state(self, leg: Leg, state: LegState, status: int) -> None:
        if state is LegState.DISCONNECTED and not self._reported:
            self._reported = True
            routed = self._execution.routed
            plan = routed.plan if routed is not None else None
            front = self._execution.front
            location = plan.location if plan is not None and front is not None else None
            now = self._svc.now()
            answered_at = self._answered_at or now
            self._svc.finished(self.ref, CallOutcome(
                call_ref=self._call_ref,
                call_class=plan.call_class if plan else CallClass.INVALID,
                action=plan.action if plan else Action.REJECT,
                result=self._execution.result,
                status=self._execution.status,
                setup_seconds=answered_at - self._invite_at,
                duration_seconds=now - answered_at,
                location_source=location.source.value if location is not None else "",
                facts=call_facts(routed) if routed is not None else CallFacts(),
                pidf_lo=front.pidf_lo if front is not None else "",
                path=CallPath.FRONT if front is not None else CallPath.NONE,
            ))

    def on_media(self, leg: Leg) -> None:
        return

    def on_timer(self, tag: str) -> None:
        return
