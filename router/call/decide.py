"""The decision pipeline for one INVITE, run on the SIP thread in `onSelectAccount`:

    InboundCall -> classify (dial plan) -> locate (in-memory view) -> plan_call -> Routed

Nothing here touches the network, the database or pjsua2: the view answers from memory, and a
view that fails answers Unlocated (a 911 then goes to the sorting center, never to a failure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from dialplan import SERVICE_CODES, CallClass, Dialed, DialPlanConfig, DialPlanParseError, classify
from router.call.inbound import InboundCall
from router.call.plan import CallPlan, RoutingPolicy, plan_call
from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    CallerContext,
    Located,
    Unlocated,
    UnlocatedReason,
)


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
    call_ref: str = ""
    """The call's one reference (`router.callref`), made by the worker when the INVITE is
    first handled: logs, the outcome, the call record and the notification all carry it."""

    @property
    def known_account(self) -> str | None:
        """The account id when the view knows that account, else None (what logs show)."""
        return self.account_id if self.caller.account_known else None


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
        catch_up: Callable[[int], None] | None = None,
    ) -> None:
        self._dialplan = dialplan_config
        self._view = view
        self.policy = policy
        self._account_for = account_for
        self._catch_up = catch_up
        """Brings the view to at least a given change_seq (`LocationView.catch_up`): called
        when the front says which change it decided with (`InboundCall.view_seq`)."""

    def route(self, inbound: InboundCall, *, call_ref: str = "") -> Routed | ParseFailure:
        try:
            dialed = classify(inbound.request_uri, self._dialplan)
        except DialPlanParseError as exc:
            return ParseFailure(exc.sip_status, str(exc))
        if (inbound.view_seq is not None and self._catch_up is not None
                and dialed.call_class not in (CallClass.EMERGENCY, CallClass.EMERGENCY_TEST)):
            # Read-your-writes for ordinary calls only: a catch-up may read the store on the
            # SIP thread, and a 911/933 never waits on I/O (a change storm blocked them:
            # docs/kamailio.md "Change storms"); it locates with the view in force.
            self._catch_up(inbound.view_seq)
        account_id = self._account_for(inbound)
        user = inbound.from_user or inbound.caller.user
        # An unknown device (None: issue 13) is looked up as "" (Unlocated, invalid_ip): its
        # call keeps its callback identity but never another device's location.
        device = "" if inbound.device_ip is None else str(inbound.device_ip)
        location, caller = self._lookup(account_id, user, device)
        plan = plan_call(dialed, location, caller, self.policy)
        return Routed(inbound, dialed, location, caller, plan, account_id, call_ref)

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


def dialled_form(dialed: Dialed | None) -> str:
    """What kind of string was dialled, never the digits of an ordinary number (log lines):

    short_code (911, 933, an extra emergency number), access_prefix (X911, X933, or an outside
    line digit before an external number), e164 (+1911, or a +E.164 number), external (a
    national or 011 international number), service_code (411, 611, ...), extension, urn
    (`urn:service:sos...`), invalid, unparseable (the dial plan could not read it: 400/416).
    """
    if dialed is None:
        return "unparseable"
    if dialed.call_class is CallClass.INVALID:
        return "invalid"
    if dialed.dialed.startswith("urn:"):
        return "urn"
    if dialed.access_prefix is not None:
        return "access_prefix"
    if dialed.dialed.startswith("+"):
        return "e164"
    if dialed.call_class is not CallClass.NORMAL:
        return "short_code"
    if dialed.normalized.startswith("+"):
        return "external"
    return "service_code" if dialed.dialed in SERVICE_CODES else "extension"
