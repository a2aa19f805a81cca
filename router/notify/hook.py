"""The SIP path's side of notifications: turn a routing decision into the notice the
recorder writes. Pure and cheap: it runs on the SIP thread, from data already in memory.
"""

from __future__ import annotations

from datetime import datetime

from dialplan import CallClass
from router import sipsafe
from router.call.decide import Routed
from router.call.trunk_request import callback_number
from router.location.civic import CivicAddress
from router.notify.model import EmergencyCallNotice


def address_lines(civic: CivicAddress) -> tuple[str, ...]:
    """The address as contacts read it: street line, secondary line, city line."""
    return tuple(line for line in (civic.street_line(), civic.secondary_line(),
                                   civic.last_line()) if line)


def notice_from_route(
    routed: Routed, *, call_ref: str, now: datetime
) -> EmergencyCallNotice | None:
    """The notice for an emergency (911) or test (933) call; None for any other call.

    What the contacts read is what the PSAP got (issue 18: one caller identity): the location
    in the plan (None when the call goes to the sorting center), and the caller as the
    P-Asserted-Identity names them, display name and number, computed by the same functions
    `router.call.trunk_request.build_request` puts in that header (so an agent with no display name
    of its own is "Acme Support" in both, never the softphone's From name). The language is
    the account's callback language (the contacts belong to the account; the announcement
    follows the same setting).
    """
    plan = routed.plan
    if not plan.is_emergency:
        return None
    caller = routed.caller
    inbound = routed.inbound
    number = callback_number(routed)
    # RFC 3325: no number, no P-Asserted-Identity at all, so no name was asserted either.
    name = sipsafe.display_name(plan.callback.display_name) \
        if plan.callback is not None and number else ""
    language = (caller.account_callback.language if caller.account_callback is not None
                else caller.account_language) or plan.language.value
    return EmergencyCallNotice(
        call_ref=call_ref,
        account_id=routed.account_id,
        placed_at=now,
        caller_display_name=name,
        callback_number=number,
        address_lines=address_lines(plan.location.civic) if plan.location is not None else None,
        test_call=plan.call_class is CallClass.EMERGENCY_TEST,
        language=language,
        sip_user=inbound.from_user or inbound.caller.user or None,
        sip_call_id=inbound.call_id or None,
        dialed=inbound.dialed,
        # plan_call sends a disabled account's 911 to the sorting center without location
        # (router/call/plan.py `_emergency`); a 933 is routed the same either way.
        e911_disabled=(plan.call_class is CallClass.EMERGENCY and caller.account_known
                       and not caller.account_enabled),
    )
