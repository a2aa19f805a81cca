"""`GET /v1/events`: server-sent events (the HTML Living Standard's `text/event-stream`).

An administrator's stream carries every event of the account; a user's, that user's own. Each
event is

    id: <seq>
    event: network.changed
    data: {"id": "evt_...", "seq": 42, "type": "network.changed", "created_at": ..., ...}

A new stream starts after the newest stored event; a client that reconnects with the last
`id` it saw in `Last-Event-ID` gets everything after it, so nothing is lost across a
reconnect. The stream polls the store (one indexed query per poll interval) and sends a
comment line as a keep-alive when idle, so proxies do not close it.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Final

import anyio.to_thread
import structlog
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from router.api.auth import Principal
from router.api.deps import Caller, Deps, Services
from router.api.errors import ApiError, ErrorType, FieldError, error_responses
from router.location.model import Event
from router.store.feed import PUBLIC_EVENT_TYPES, latest_seq

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1", tags=["events"])

_SSE_DOC = {
    200: {"description": "A text/event-stream of events",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
    **error_responses(400, 401),
}


LAST_EVENT_ID_PATTERN: Final = r"^[0-9]{0,19}$"
"""An `id` this stream sent: ASCII digits only (`str.isdigit` also accepts "²", which `int()`
refuses, and Arabic-Indic digits, which it reads), at most 19 of them; `MAX_SEQ` bounds the
value, so no number reaches the database's driver as an OverflowError."""

MAX_SEQ: Final = 2**63 - 1
"""The largest `events.seq` either engine holds (SQLite INTEGER, PostgreSQL BIGINT)."""


@router.get("/events", response_class=StreamingResponse, responses=_SSE_DOC)
async def events(
    request: Request, who: Caller, s: Deps,
    last_event_id: Annotated[str | None, Header(
        alias="Last-Event-ID", pattern=LAST_EVENT_ID_PATTERN,
        description="The last `id` received: the stream resumes after it")] = None,
    types: Annotated[str | None, Query(
        max_length=200, description="Comma list of event types to receive (default: all): "
                                    + ", ".join(PUBLIC_EVENT_TYPES))] = None,
) -> StreamingResponse:
    """Stream events as they happen (administrators: the whole account; users: their own)."""
    wanted = _types(types)
    if last_event_id:
        after = _resume_after(last_event_id)
    else:
        after = await anyio.to_thread.run_sync(latest_seq, s.store, who.account_id)
    return StreamingResponse(
        _stream(request, who, s, after, wanted), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _resume_after(text: str) -> int:
    """The sequence number to resume after (the header matched the pattern), or 400."""
    after = int(text)
    if after > MAX_SEQ:
        raise ApiError(400, ErrorType.INVALID_REQUEST,
                       "Last-Event-ID must be an event id from this stream",
                       (FieldError("Last-Event-ID", "out_of_range",
                                   f"larger than the largest event id ({MAX_SEQ})"),))
    return after


def _types(text: str | None) -> tuple[str, ...]:
    if text is None or not text.strip():
        return PUBLIC_EVENT_TYPES
    asked = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    unknown = [t for t in asked if t not in PUBLIC_EVENT_TYPES]
    if unknown:
        raise ApiError(400, ErrorType.INVALID_REQUEST,
                       f"unknown event type(s): {', '.join(unknown)}",
                       (FieldError("types", "unknown_event_type",
                                   f"one of {', '.join(PUBLIC_EVENT_TYPES)}",
                                   PUBLIC_EVENT_TYPES),))
    return asked


async def _stream(request: Request, who: Principal, s: Services, after: int,
                  types: tuple[str, ...]) -> AsyncIterator[bytes]:
    # `retry` tells EventSource clients how long to wait before reconnecting.
    yield b"retry: 2000\n: connected\n\n"
    last_write = time.monotonic()
    log.info("e911.api.events_opened", role=who.role.value, after_seq=after)
    try:
        while not await request.is_disconnected():
            batch = await anyio.to_thread.run_sync(_next_batch, s, who, after, types)
            for event in batch:
                after = event.seq
                yield _frame(event.seq, event.type, json.dumps(event.wire()))
            if batch:
                last_write = time.monotonic()
                continue
            if time.monotonic() - last_write >= s.heartbeat_seconds:
                yield b": keepalive\n\n"
                last_write = time.monotonic()
            await anyio.sleep(s.event_poll_seconds)
    except Exception:
        # Headers are sent: the client sees the stream end and resumes with Last-Event-ID.
        log.exception("e911.api.events_failed", after_seq=after)
    finally:
        log.info("e911.api.events_closed", role=who.role.value, after_seq=after)


def _next_batch(s: Services, who: Principal, after: int,
                types: tuple[str, ...]) -> list[Event]:
    return s.store.list_events(who.account_id, sip_user=who.sip_user, after_seq=after,
                               limit=100, types=types)


def _frame(seq: int, type_: str, data: str) -> bytes:
    return f"id: {seq}\nevent: {type_}\ndata: {data}\n\n".encode()
