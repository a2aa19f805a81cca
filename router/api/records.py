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

from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from router.api.auth import require_admin
from router.api.deps import Caller, Deps
from router.api.errors import ApiError, ErrorType, error_responses
from router.records.export import record_json
from router.records.store import RecordStore

router = APIRouter(prefix="/v1/call-records", tags=["call records"])

MAX_RECORDS = 1000


_INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$"
"""ISO 8601 with a time zone. Typed as a string on purpose: pydantic would also take a bare
number as a Unix time, which no auditor means by `to=0.5`."""


def _instant(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, ErrorType.INVALID_REQUEST,
                       f"{name}: not a time (use 2026-03-01T00:00:00Z)") from None


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


@router.get("/verify", response_class=JSONResponse, responses=error_responses(401, 403))
async def verify_call_records(who: Caller, s: Deps) -> JSONResponse:
    """Walk the hash chain: intact, or the first broken record and why."""
    require_admin(who)
    verdict = await anyio.to_thread.run_sync(RecordStore(s.store).verify)
    broken = verdict.broken
    return JSONResponse({
        "intact": verdict.ok, "records": verdict.checked, "last_seq": verdict.last_seq,
        "last_hash": verdict.last_hash,
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
