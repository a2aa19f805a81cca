"""`POST /v1/registrations`: a trusted PBX reports that a device registered (or is gone), so
`network.changed` reaches the user when the device connects, not at its first call
(issue 17; docs/registrations.md).

For PBXs that can only call a URL. The body is either JSON (one device) or an RFC 3680
`application/reginfo+xml` document (what a PBX's `reg` event package sends). Only an
administrator token may report registrations: a user token, or none, is refused before
anything is believed. The decision (arrival, re-registration, known network) is the store's,
shared with the call path (`Store.record_registration`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router.api.auth import require_admin
from router.api.deps import USER_PATTERN, Caller, Deps
from router.api.errors import ApiError, ErrorType, FieldError, error_responses, invalid
from router.location.bindings import parse_ip
from router.location.registrations import (
    DEFAULT_EXPIRES_SECONDS,
    MAX_EXPIRES_SECONDS,
    REGINFO_CONTENT_TYPE,
    DeviceRegistration,
    ReginfoError,
    RegState,
    parse_reginfo,
)
from router.nameaddr import parse_name_addr
from router.store.store import Store

router = APIRouter(prefix="/v1/registrations", tags=["registrations"])


class RegistrationIn(BaseModel):
    """One device of one user, as the PBX's registrar saw it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    user: Annotated[str, Field(max_length=128, description="The AOR's user part (the "
                               "extension), or the AOR itself: `sip:1001@pbx.example.net`",
                               examples=["1001"])]
    ip: Annotated[str, Field(max_length=64, description="The device's address: where the "
                             "REGISTER came from (the NAT-seen source)",
                             examples=["198.51.100.20"])]
    state: Annotated[Literal["registered", "unregistered"], Field(
        description="`unregistered` when the device unregistered or its registration expired")]
    contact: Annotated[str, Field(max_length=512, description="The registered Contact URI: "
                                  "tells the user's devices apart (default: the ip)")] = ""
    expires: Annotated[int, Field(ge=0, description="Seconds the registration lasts "
                                  f"(default {DEFAULT_EXPIRES_SECONDS}; at most a week "
                                  "counts)")] = DEFAULT_EXPIRES_SECONDS


class AppliedOut(BaseModel):
    user: str
    ip: str
    state: Literal["registered", "unregistered"]
    network_changed: str | None = Field(
        description="The id of the `network.changed` event this raised, or null")


class SkippedOut(BaseModel):
    aor: str
    reason: str


class RegistrationsOut(BaseModel):
    applied: list[AppliedOut]
    skipped: list[SkippedOut]


_JSON_SCHEMA = RegistrationIn.model_json_schema()

_BODY_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": _JSON_SCHEMA},
    REGINFO_CONTENT_TYPE: {"schema": {
        "type": "string", "description": "An RFC 3680 reginfo document (UTF-8, no DOCTYPE, "
        "at most 64 KiB)"}},
}}}


@router.post("", response_model=RegistrationsOut, openapi_extra=_BODY_DOC,
             responses=error_responses(400, 401, 403, 413, 422))
async def report_registrations(request: Request, who: Caller, s: Deps) -> RegistrationsOut:
    """A device registered or unregistered at the PBX (administrator token only)."""
    require_admin(who)
    body = await request.body()
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media == REGINFO_CONTENT_TYPE:
        try:
            parsed = parse_reginfo(body)
        except ReginfoError as exc:
            raise invalid([FieldError("body", exc.code, exc.message)]) from None
        devices, skipped = parsed.registrations, [SkippedOut(aor=k.aor, reason=k.reason)
                                                  for k in parsed.skipped]
    elif media in ("application/json", ""):
        devices, skipped = (_from_json(body),), []
    else:
        raise ApiError(400, ErrorType.INVALID_REQUEST,
                       f"Content-Type must be application/json or {REGINFO_CONTENT_TYPE}")
    applied = await anyio.to_thread.run_sync(_apply, s.store, who.account_id, devices)
    return RegistrationsOut(applied=applied, skipped=skipped)


def _from_json(body: bytes) -> DeviceRegistration:
    try:
        given = RegistrationIn.model_validate_json(body)
    except ValidationError as exc:
        # The app's handler turns these into the one error shape (400 malformed, 422 fields).
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    # An AOR gives its user part, as in a reginfo body.
    user = parse_name_addr(given.user).user if ":" in given.user else given.user
    errors = []
    if not re.match(USER_PATTERN, user):
        errors.append(FieldError("user", "invalid_user", "a SIP user part (extension) or an "
                                 "AOR with one, such as sip:1001@pbx.example.net"))
    ip = ""
    try:
        ip = str(parse_ip(given.ip))
    except ValueError:
        errors.append(FieldError("ip", "invalid_ip", "an IPv4 or IPv6 address"))
    if errors:
        raise invalid(errors)
    gone = given.state == "unregistered" or given.expires == 0
    return DeviceRegistration(
        user=user, device_ip=ip, contact=given.contact or ip,
        state=RegState.UNREGISTERED if gone else RegState.REGISTERED,
        expires_seconds=0 if gone else min(given.expires, MAX_EXPIRES_SECONDS))


def _apply(store: Store, account_id: str, devices: tuple[DeviceRegistration, ...]
           ) -> list[AppliedOut]:
    applied = []
    for d in devices:
        event = store.record_registration(
            account_id, d.user, d.device_ip, contact=d.contact,
            registered=d.state is RegState.REGISTERED, expires_seconds=d.expires_seconds)
        applied.append(AppliedOut(user=d.user, ip=d.device_ip, state=d.state.value,
                                  network_changed=event.id if event is not None else None))
    return applied
