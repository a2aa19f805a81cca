"""The SIP path's side of notifications: turn a routing decision into the notice the
recorder writes. Pure and cheap: it runs on the SIP thread, from data already in memory.
"""

from __future__ import annotations

from datetime import datetime

from dialplan import CallClass
from router.location.civic import CivicAddress
from router.notify.model import EmergencyCallNotice
from router.sip.route import Routed


def address_lines(civic: CivicAddress) -> tuple[str, ...]:
    """The address as contacts read it: street line, secondary line, city line."""
    return tuple(line for line in (civic.street_line(), civic.secondary_line(),
                                   civic.last_line()) if line)


def notice_from_route(
    routed: Routed, *, call_ref: str, now: datetime
) -> EmergencyCallNotice | None:
    """The notice for an emergency (911) or test (933) call; None for any other call.

    What the contacts read is what the PSAP got: the location in the plan (None when the call
    goes to the sorting center), and the callback number in its P-Asserted-Identity (or the
    caller's own number when the account has none, the ANI the trunk routes on).
    """
    plan = routed.plan
    if not plan.is_emergency:
        return None
    caller = routed.caller
    inbound = routed.inbound
    name = (caller.user_display_name or inbound.caller.display_name or caller.display_name
            or "")
    number = (plan.callback.number if plan.callback is not None else "") or inbound.caller.user
    return EmergencyCallNotice(
        call_ref=call_ref,
        account_id=routed.account_id,
        placed_at=now,
        caller_display_name=name,
        callback_number=number,
        address_lines=address_lines(plan.location.civic) if plan.location is not None else None,
        test_call=plan.call_class is CallClass.EMERGENCY_TEST,
        language=caller.account_language or plan.language.value,
        sip_user=inbound.from_user or inbound.caller.user or None,
        sip_call_id=inbound.call_id or None,
        dialed=inbound.dialed,
    )
