"""The decision pipeline for one INVITE, run on the SIP thread in `onSelectAccount`:

    InboundCall -> classify (dial plan) -> locate (in-memory view) -> plan_call -> Routed

Nothing here touches the network, the database or pjsua2: the view answers from memory, and a
view that fails answers Unlocated (a 911 then goes to the sorting center, never to a failure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from dialplan import Dialed, DialPlanConfig, DialPlanParseError, classify
from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    CallerContext,
    Located,
    Unlocated,
    UnlocatedReason,
)
from router.plan import CallPlan, RoutingPolicy, plan_call
from router.sip.inbound import InboundCall


class LocationView(Protocol):
    """What the SIP path needs from `router.location.view.LocationView` (in-memory, fast)."""

    def locate(self, account_id: str, sip_user: str, device_ip: str) -> Located | Unlocated: ...

    def caller_context(self, account_id: str, sip_user: str) -> CallerContext: ...


@dataclass(frozen=True, slots=True)
class Routed:
    """Everything decided about one call: the facts, the classification, location and plan."""

    inbound: InboundCall
    dialed: Dialed | None
    """None when the dial string could not be parsed (the plan is then a REJECT)."""
    location: Located | Unlocated
    caller: CallerContext
    plan: CallPlan
    account_id: str


@dataclass(frozen=True, slots=True)
class ParseFailure:
    """A dial string the dial plan refused; the caller gets `status` (400 or 416)."""

    status: int
    reason: str


class CallRouter:
    """classify -> locate -> plan. One instance per worker; `route` is called per INVITE."""

    def __init__(
        self,
        dialplan_config: DialPlanConfig,
        view: LocationView,
        policy: RoutingPolicy,
        *,
        account_for: Callable[[InboundCall], str] = lambda _call: DEFAULT_ACCOUNT_ID,
    ) -> None:
        self._dialplan = dialplan_config
        self._view = view
        self.policy = policy
        self._account_for = account_for

    def route(self, inbound: InboundCall) -> Routed | ParseFailure:
        try:
            dialed = classify(inbound.request_uri, self._dialplan)
        except DialPlanParseError as exc:
            return ParseFailure(exc.sip_status, str(exc))
        account_id = self._account_for(inbound)
        user = inbound.from_user or inbound.caller.user
        location, caller = self._lookup(account_id, user, str(inbound.device_ip))
        plan = plan_call(dialed, location, caller, self.policy)
        return Routed(inbound, dialed, location, caller, plan, account_id)

    def _lookup(
        self, account_id: str, user: str, device_ip: str
    ) -> tuple[Located | Unlocated, CallerContext]:
        """The view never raises into the SIP thread: a failure is Unlocated (sorting center)."""
        try:
            location = self._view.locate(account_id, user, device_ip)
        except Exception:  # any view bug must cost at most the location
            location = Unlocated(UnlocatedReason.ERROR)
        try:
            caller = self._view.caller_context(account_id, user)
        except Exception:
            caller = CallerContext(loaded=False)
        return location, caller
