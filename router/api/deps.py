"""What routes share: the services the app was built with, the caller, path parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Path, Query, Request

from router.api.auth import Principal, TokenStore, principal
from router.api.errors import ApiError, ErrorType
from router.api.msag_cache import MsagCache
from router.settings import Settings
from router.store.checks import MAX_PAGE
from router.store.store import Store


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: Store
    msag: MsagCache
    tokens: TokenStore
    event_poll_seconds: float
    heartbeat_seconds: float


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def source_ip(request: Request) -> str:
    """The TCP peer of this request (behind a reverse proxy, what the proxy reports when
    `e911-router api --forwarded-allow-ips` trusts it)."""
    if request.client is None or not request.client.host:
        raise ApiError(400, ErrorType.INVALID_REQUEST,
                       "the request has no source address; an administrator can pass ip")
    return request.client.host


USER_PATTERN: Final = r"^[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]{0,127}$"
"""A SIP user part as it names a user here ("1001", "alice", "+14065550100"): URL-safe
characters only, so ids never need escaping in paths or logs."""

ID_PATTERN: Final = r"^[A-Za-z0-9_]{1,64}$"

Caller = Annotated[Principal, Depends(principal)]
Deps = Annotated[Services, Depends(services)]
UserPath = Annotated[str, Path(pattern=USER_PATTERN, description="The SIP user (extension)",
                               examples=["1001"])]
IdPath = Annotated[str, Path(pattern=ID_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size, 1 to 100")]
StartingAfter = Annotated[str | None, Query(
    pattern=r"^[A-Za-z0-9_.+\-]{1,128}$",
    description="The last id of the previous page: the page after it")]
