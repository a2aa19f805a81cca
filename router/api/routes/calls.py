"""`GET /v1/emergency-calls/{call_ref}`: a 911/933 call's contact notifications and how each
delivery went (Kari's Law, 47 CFR 9.16(b)(2)), from the notification outbox.

An administrator sees any call of the account; a user sees only calls placed as that user.
Someone else's call answers 404, like a missing one: call references are not to be probed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from router.api.deps import ID_PATTERN, Caller, Deps
from router.api.errors import ApiError, ErrorType, error_responses
from router.notify.outbox import Outbox

router = APIRouter(prefix="/v1/emergency-calls", tags=["emergency calls"])


class DeliveryDoc(BaseModel):
    id: str
    recipient: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_attempt_at: datetime | None
    sent_at: datetime | None
    message_id: str
    possible_duplicate: bool
    call_ref: str


class EmergencyCallDoc(BaseModel):
    """`CallNotifications.as_dict()` (router/notify/model.py)."""

    call_ref: str
    account_id: str
    test_call: bool
    placed_at: datetime
    recorded_at: datetime
    via_spool: bool
    language: str
    location_sent: bool
    summary: dict[str, int]
    deliveries: list[DeliveryDoc]


@router.get("/{call_ref}", response_class=JSONResponse,
            responses={200: {"model": EmergencyCallDoc,
                             "description": "The call's notifications"},
                       **error_responses(400, 401, 404)})
async def get_emergency_call(
    call_ref: Annotated[str, Path(pattern=ID_PATTERN)], who: Caller, s: Deps,
) -> JSONResponse:
    """The call's notification record and the state of each e-mail to a contact."""
    outbox = Outbox(s.store)
    found = await anyio.to_thread.run_sync(outbox.get_call, call_ref)
    if found is None or found.notice.account_id != who.account_id or (
            not who.is_admin and found.notice.sip_user != who.sip_user):
        raise ApiError(404, ErrorType.NOT_FOUND, f"emergency call {call_ref!r} not found")
    return JSONResponse(found.as_dict())
