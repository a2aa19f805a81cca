"""The one frozen event a finished call leaves behind; logging, metrics and call records observe
it (stamina / ctms style: two observers of one outcome). Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Literal

from dialplan import CallClass
from router.call.plan import Action, Purpose


class Result(Enum):
    BRIDGED = "bridged"
    """A trunk answered and the call was connected."""
    REDIRECTED = "redirected"
    ANNOUNCED = "announced"
    """The caller heard "address not registered" and got 403 (or a BYE)."""
    REJECTED = "rejected"
    SHED = "shed"
    """503 + Retry-After: no slot for a non-emergency call."""
    FAILED = "failed"
    """Every trunk failed; the caller got the mapped failure (or, for 911, a 302)."""
    CANCELLED = "cancelled"
    """The caller gave up (CANCEL) before an answer."""


class CallPath(StrEnum):
    """Which path carried an emergency call (`CallOutcome.path`)."""

    NONE = ""
    """Not an emergency call carried by us (a normal call, or one refused at once)."""
    BRIDGE = "bridge"
    """Our B2BUA leg (router.sip.bridge)."""
    FRONT = "front"
    """A 302 that Kamailio turned into the emergency INVITE (router.call.front_redirect)."""


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the routing decision knew about the caller (`router.call.trunk_request.call_facts`)."""

    dialed: str = ""
    """The dial string as received (`InboundCall.dialed`)."""
    account_id: str = ""
    sip_user: str = ""
    sip_call_id: str = ""
    """The caller's Call-ID: in the call record, and the `call_id` of the call's log lines
    (the one bound logger); never a metric label."""
    location_id: str = ""
    """The saved address id, or the admin network id, the PIDF-LO was built from."""
    callback_number: str = ""
    """The callback number for the PSAP (P-Asserted-Identity), "" when none is known."""


@dataclass(frozen=True, slots=True)
class TrunkAttempt:
    """One outgoing INVITE of a bridge and how it ended."""

    trunk: str
    """The trunk URI from the settings."""
    purpose: Purpose
    status: int = 0
    """The trunk's final status (200 answered); 0 when none came (the caller left first)."""
    timed_out: bool = False
    """No 18x or final within the trunk timeout: we gave up (CANCEL) and hunted on."""
    not_sent: bool = False
    """pjsua2 refused to send the INVITE."""


@dataclass(frozen=True, slots=True)
class CallOutcome:
    call_ref: str
    """The call's one reference (`router.callref.new_call_ref`, made when the worker first
    handled the INVITE): the same in its log lines, its call record and its notification."""
    call_class: CallClass
    action: Action
    result: Result
    status: int
    """The final status we sent upstream (200 for an answered call)."""
    trunk_purpose: Purpose | Literal[""] = ""
    """Which kind of trunk carried it ("" when no trunk answered)."""
    attempts: int = 0
    location_source: str = ""
    """binding | network | "" (unlocated)."""
    setup_seconds: float = 0.0
    """INVITE received -> the first final answer sent upstream (or the end, when none was)."""
    duration_seconds: float = 0.0
    """That final answer -> the end of the call (0 when it ended with the answer)."""
    # -- for the call record (router/records); observers store these, never log them ----
    facts: CallFacts = field(default_factory=CallFacts)
    """Who called what, from where, with which callback number."""
    tried: tuple[TrunkAttempt, ...] = ()
    """Every outgoing INVITE, in order."""
    trunk_used: str = ""
    """The trunk URI that answered ("" when none did)."""
    pidf_lo: str = ""
    """The PIDF-LO body exactly as sent in the last INVITE that carried one ("" when none)."""
    path: CallPath = CallPath.NONE
    """Which path carried an emergency call (bridge or front); NONE ("") for other calls."""
