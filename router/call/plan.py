"""Decide what happens to one call: `plan_call(...) -> CallPlan`. Pure: no SIP, no I/O, no clock.

The plan, as the design's routing table (docs/architecture.md tells the whole path):

| call class         | located | plan                                                         |
|--------------------|---------|--------------------------------------------------------------|
| emergency          | yes     | bridge: PSAP trunks in order, then the sorting center        |
| emergency          | no      | bridge: the sorting center, with the callback identity       |
| test (933)         | either  | bridge: the test trunks                                      |
| normal             | yes     | redirect (302) to the outbound route, or a bridge (setting)  |
| normal             | no      | announce "address not registered", then 403 (or 200 + BYE)   |
| invalid            | -       | reject 404                                                   |

Failover is data (sippy/b2bua style): an ordered tuple of `RouteAttempt`s and the set of final
codes that stop the hunt. An emergency plan never stops hunting before its last attempt, and
its last attempt is always the sorting center, which can take any 911 call.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dialplan import CallClass, Dialed
from router import sipsafe
from router.call.modes import AnnounceMode, NormalCallMode
from router.language import Language
from router.location.model import CallerContext, Located, Unlocated

EMERGENCY_USER = "911"
TEST_USER = "933"

ADDRESS_NOT_REGISTERED = "Emergency address not registered"
"""RFC 3326 Reason text of the final 403 after the announcement."""

NORMAL_STOP_CODES: frozenset[int] = frozenset(
    code for code in range(300, 500) if code not in (408,)
)
"""A bridged normal call hunts on timeout, 408, 5xx and 6xx; any other final code goes upstream."""


class Action(StrEnum):
    BRIDGE = "bridge"
    """Signalling-only B2BUA leg along `attempts` (SDP passed through, no media through us)."""
    REDIRECT = "redirect"
    """302 with exactly one Contact (`redirect_uri`): the slot frees at once."""
    ANNOUNCE_BLOCK = "announce_block"
    """Play "address not registered", then 403 (early) or BYE (answer)."""
    REJECT = "reject"
    """A final response `status` with an RFC 3326 `Reason`."""


class Purpose(StrEnum):
    PSAP = "psap"
    SORTING_CENTER = "sorting_center"
    TEST = "test"
    OUTBOUND = "outbound"


@dataclass(frozen=True, slots=True)
class RouteAttempt:
    """One outgoing INVITE: `sip:<user>@<trunk host>` for one purpose."""

    trunk: str
    """The trunk URI from the settings (`sip:host:port;params`)."""
    user: str
    """Request-URI user: 911, 933 or the dialled number."""
    purpose: Purpose

    @property
    def request_uri(self) -> str:
        return with_user(self.trunk, self.user)


@dataclass(frozen=True, slots=True)
class CallbackIdentity:
    """Who the PSAP calls back (RFC 3325 P-Asserted-Identity) and in which language."""

    display_name: str
    number: str
    """E.164 or "" when nothing is known (the trunk then routes on ANI)."""


@dataclass(frozen=True, slots=True)
class CallPlan:
    action: Action
    call_class: CallClass
    language: Language
    attempts: tuple[RouteAttempt, ...] = ()
    stop_codes: frozenset[int] = frozenset()
    """Final codes from a trunk that end the hunt and go upstream (empty: hunt to the end)."""
    redirect_uri: str = ""
    """Contact of a REDIRECT, and where an emergency call goes when no bridge slot is free."""
    status: int = 0
    """REJECT's final code, or the final code after ANNOUNCE_BLOCK (early mode)."""
    reason: str = ""
    """RFC 3326 Reason text for `status`."""
    announce_mode: AnnounceMode = AnnounceMode.EARLY
    location: Located | None = None
    callback: CallbackIdentity | None = None

    @property
    def is_emergency(self) -> bool:
        return self.call_class in (CallClass.EMERGENCY, CallClass.EMERGENCY_TEST)

    @property
    def reason_header(self) -> tuple[str, str]:
        """RFC 3326 s2: `Reason: SIP;cause=<status>;text="<reason>"`, with a REJECT or the
        final answer after an announcement (the worker's and the front's, issue 19)."""
        return ("Reason", f'SIP;cause={self.status};text="{self.reason}"')

    def hunts_on(self, status: int) -> bool:
        """After a trunk answered `status` (408 for our own timeout), try the next attempt?"""
        return status >= 300 and status not in self.stop_codes


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """The settings a plan depends on (a slice of `Settings`: `Settings.routing_policy()`;
    tests build it directly)."""

    trunk_psap: tuple[str, ...]
    trunk_sorting_center: tuple[str, ...]
    trunk_test: tuple[str, ...]
    trunk_outbound: str
    normal_call_mode: NormalCallMode = NormalCallMode.REDIRECT
    announce_mode: AnnounceMode = AnnounceMode.EARLY
    default_language: Language = Language.EN


def plan_call(
    dialed: Dialed,
    location: Located | Unlocated,
    caller: CallerContext,
    policy: RoutingPolicy,
) -> CallPlan:
    """The whole routing decision for one call."""
    language = caller_language(caller, policy.default_language)
    located = location if isinstance(location, Located) else None
    cls = dialed.call_class
    if cls is CallClass.EMERGENCY:
        return _emergency(cls, language, located, caller, policy)
    if cls is CallClass.EMERGENCY_TEST:
        attempts = tuple(RouteAttempt(t, TEST_USER, Purpose.TEST) for t in policy.trunk_test)
        return CallPlan(Action.BRIDGE, cls, language, attempts=attempts,
                        redirect_uri=with_user(policy.trunk_test[0], TEST_USER),
                        location=located, callback=callback_identity(caller))
    if cls is CallClass.NORMAL and located is not None:
        outbound = with_user(policy.trunk_outbound, dialed.normalized)
        if policy.normal_call_mode is NormalCallMode.BRIDGE:
            attempt = RouteAttempt(policy.trunk_outbound, dialed.normalized, Purpose.OUTBOUND)
            return CallPlan(Action.BRIDGE, cls, language, attempts=(attempt,),
                            stop_codes=NORMAL_STOP_CODES, redirect_uri=outbound)
        return CallPlan(Action.REDIRECT, cls, language, redirect_uri=outbound)
    if cls is CallClass.NORMAL:
        return CallPlan(Action.ANNOUNCE_BLOCK, cls, language, status=403,
                        reason=ADDRESS_NOT_REGISTERED, announce_mode=policy.announce_mode)
    return CallPlan(Action.REJECT, cls, language, status=404, reason="Not a dialable number")


def _emergency(
    cls: CallClass,
    language: Language,
    located: Located | None,
    caller: CallerContext,
    policy: RoutingPolicy,
) -> CallPlan:
    """911: the PSAP trunks when we know where the caller is, and always the sorting center last.

    Without a location, or for an account whose E911 settings are not enabled, the call goes to
    the sorting center (a call-taker asks for the address): never a failure for lack of data.
    """
    psap: tuple[RouteAttempt, ...] = ()
    if located is not None and caller.account_enabled:
        psap = tuple(RouteAttempt(t, EMERGENCY_USER, Purpose.PSAP) for t in policy.trunk_psap)
    sorting = tuple(RouteAttempt(t, EMERGENCY_USER, Purpose.SORTING_CENTER)
                    for t in policy.trunk_sorting_center)
    return CallPlan(
        Action.BRIDGE, cls, language,
        attempts=psap + sorting,
        redirect_uri=with_user((policy.trunk_psap + policy.trunk_sorting_center)[0],
                               EMERGENCY_USER),
        location=located if psap else None,
        callback=callback_identity(caller),
    )


def caller_language(caller: CallerContext, default: Language) -> Language:
    try:
        return Language(caller.language) if caller.language else default
    except ValueError:
        return default


def callback_identity(caller: CallerContext) -> CallbackIdentity:
    """The callback number and display name (letters, digits and spaces only: Talkdesk's rule)."""
    name = sipsafe.display_name(caller.display_name or "")
    return CallbackIdentity(display_name=name, number=caller.callback_number or "")


def with_user(trunk: str, user: str) -> str:
    """`sip:host:port;transport=udp` + `911` -> `sip:911@host:port;transport=udp`.

    A trunk URI that already names a user keeps its host and takes the new user (RFC 3261
    s19.1.1: the user part of a Request-URI is what the next hop routes on).
    """
    scheme, _, rest = trunk.partition(":")
    host = rest.split("@", 1)[1] if "@" in rest else rest
    return f"{scheme}:{user}@{host}" if user else f"{scheme}:{host}"
