"""`/v1/call-records`: the 911/933 call records, for administrators (issue 8; the same
records `e911-router records export` writes). Read-only: records are append-only.

    GET /v1/call-records?from=...&to=...&limit=...   the account's records, oldest first
    GET /v1/call-records/verify                       the whole hash chain's verdict
    GET /v1/call-records/{record_id}                  one record

Each record carries the PIDF-LO it sent (until the retention period pruned the body) and the
notification outcomes joined from the outbox. Users get 403: a record holds other people's
callback numbers and addresses. Mount with `app.include_router(router)`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from router.api.auth import require_admin
from router.api.deps import Caller, Deps
from router.api.errors import ApiError, ErrorType, FieldError, error_responses
from router.records.audit import RecordKeyError, audit
from router.records.export import record_json
from router.records.store import RecordStore

router = APIRouter(prefix="/v1/call-records", tags=["call records"])

MAX_RECORDS = 1000


_INSTANT = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
            r"(Z|[+-][0-9]{2}:[0-9]{2})$")
"""ISO 8601 with a time zone, ASCII digits only (`\\d` would also take Arabic-Indic and
full-width digits). Typed as a string on purpose: pydantic would also take a bare number as
a Unix time, which no auditor means by `to=0.5`."""


def _instant(name: str, text: str | None) -> datetime | None:
    """The parameter as an aware UTC datetime, or 400 naming it.

    An offset can push a written instant outside the years 1-9999 that `datetime` (and the
    stores' bind processors, which convert to UTC) can represent:
    `9999-12-31T23:59:59-23:59` is in year 10000 in UTC. That is the client's mistake, so it
    is a 400 (`out_of_range`) rather than the OverflowError it would raise in the query.
    """
    if text is None:
        return None
    try:
        written = datetime.fromisoformat(text)
    except ValueError:
        raise _bad_instant(name, "invalid_datetime",
                           "not a date and time (use 2026-03-01T00:00:00Z)") from None
    try:
        return written.astimezone(UTC)
    except OverflowError:
        raise _bad_instant(name, "out_of_range",
                           "outside years 0001-9999 once converted to UTC") from None


def _bad_instant(name: str, code: str, message: str) -> ApiError:
    return ApiError(400, ErrorType.INVALID_REQUEST, f"{name}: {message}",
                    (FieldError(name, code, message),))


@router.get("", response_class=JSONResponse, responses=error_responses(400, 401, 403))
async def list_call_records(
    who: Caller, s: Deps,
    start_text: Annotated[str | None, Query(alias="from", pattern=_INSTANT,
                                            description="First INVITE time (ISO 8601 with a "
                                                        "time zone)")] = None,
    end_text: Annotated[str | None, Query(alias="to", pattern=_INSTANT,
                                          description="INVITE times before this")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RECORDS)] = 100,
) -> JSONResponse:
    """The account's call records whose INVITE came in [from, to), oldest first."""
    require_admin(who)
    start, end = _instant("from", start_text), _instant("to", end_text)
    records = RecordStore(s.store)

    def read() -> list[dict[str, Any]]:
        items = records.between(start, end, limit=limit, account_id=who.account_id)
        joined = records.notifications([i.record.sip_call_id for i in items])
        return [record_json(i, joined.get(i.record.sip_call_id, ())) for i in items]

    return JSONResponse({"records": await anyio.to_thread.run_sync(read)})


@router.get("/verify", response_class=JSONResponse,
            responses=error_responses(401, 403, 503))
async def verify_call_records(who: Caller, s: Deps) -> JSONResponse:
    """Walk the chain with the records key, against the store's head and this host's head
    log: intact, or the first broken record and why (router/records/audit.py). 503 when the
    records key is missing or is not the chain's."""
    require_admin(who)
    try:
        report = await anyio.to_thread.run_sync(audit, s.store, s.settings)
    except RecordKeyError as exc:
        raise ApiError(503, ErrorType.UNAVAILABLE, f"cannot verify the records: {exc}") from None
    verdict = report.verdict
    broken = verdict.broken
    return JSONResponse({
        "intact": report.ok, "records": verdict.checked, "last_seq": verdict.last_seq,
        "last_hash": verdict.last_hash, "keyed": verdict.keyed, "legacy": verdict.legacy,
        "heads_checked": verdict.heads_checked, "forged_heads": list(report.forged_heads),
        "first_broken": None if broken is None else {
            "seq": broken.seq, "id": broken.id, "reason": broken.reason},
    })


@router.get("/{record_id}", response_class=JSONResponse,
            responses=error_responses(400, 401, 403, 404))
async def get_call_record(
    record_id: Annotated[str, Path(pattern=r"^rec_[0-9a-f]{1,60}$")], who: Caller, s: Deps,
) -> JSONResponse:
    """One call record with its notification outcomes."""
    require_admin(who)
    records = RecordStore(s.store)

    def read() -> dict[str, Any] | None:
        item = records.get(record_id)
        if item is None or item.record.account_id != who.account_id:
            return None
        joined = records.notifications([item.record.sip_call_id])
        return record_json(item, joined[item.record.sip_call_id])

    found = await anyio.to_thread.run_sync(read)
    if found is None:
        raise ApiError(404, ErrorType.NOT_FOUND, f"call record {record_id!r} not found")
    return JSONResponse(found)
