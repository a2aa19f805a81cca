"""`create_app()`: the HTTP API as one FastAPI application over one location store.

The pieces, outermost first: `AuthMiddleware` (every `/v1/` request carries a bearer token,
checked before anything is parsed), `BodySizeLimit` (413), the error handlers (one JSON error
shape), then one router per resource. The MSAG index, the token store and the settings are
built once here and reach routes through `app.state.services`; the webhook sender, when
`E911_WEBHOOK_URL` is set, runs in a thread started and stopped with the app.

Routes are plain functions (FastAPI runs them in its thread pool) because the store is
synchronous; only the event stream is async, and it polls the store from a worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from router import __version__
from router.api import records
from router.api.auth import Authenticator, AuthMiddleware, TokenStore
from router.api.deps import Services
from router.api.errors import install_error_handlers
from router.api.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from router.api.models import HealthOut
from router.api.msag_cache import MsagCache
from router.api.routes import (
    account,
    addresses,
    calls,
    events,
    networks,
    registrations,
    users,
)
from router.notify.webhook import Backoff, WebhookSender
from router.settings import Settings
from router.store.store import Store

log = structlog.get_logger(__name__)

DESCRIPTION = """\
Emergency (E911) configuration for administrators and users of e911-router.

Every `/v1/` request carries `Authorization: Bearer <token>`: an administrator token from
`E911_ADMIN_TOKENS`, or a user token an administrator issued with
`POST /v1/users/{user}/tokens` (a user token reaches only its own user). Errors are
`{"error": {"type", "message", "fields": [...]}}`. See docs/api.md.
"""


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """Tuning with sensible defaults; tests shorten the intervals."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    event_poll_seconds: float = 0.5
    heartbeat_seconds: float = 15.0
    msag_check_seconds: float = 2.0
    webhook_poll_seconds: float = 1.0
    webhook_backoff: Backoff = field(default_factory=Backoff)
    webhook_timeout_seconds: float = 5.0


def create_app(settings: Settings, store: Store, *,
               options: ApiOptions | None = None) -> FastAPI:
    """The API application for `store`, configured by `settings` (admin tokens, webhook)."""
    opts = options or ApiOptions()
    tokens = TokenStore(store)
    services = Services(
        settings=settings, store=store,
        msag=MsagCache(store, check_interval_seconds=opts.msag_check_seconds),
        tokens=tokens, event_poll_seconds=opts.event_poll_seconds,
        heartbeat_seconds=opts.heartbeat_seconds)
    webhook = (WebhookSender(store, settings.webhook_url, settings.webhook_secret,
                             backoff=opts.webhook_backoff, poll_seconds=opts.webhook_poll_seconds,
                             timeout_seconds=opts.webhook_timeout_seconds)
               if settings.webhook_url else None)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Build the MSAG index before the first request, not during it.
        await anyio.to_thread.run_sync(services.msag.index)
        if webhook is not None:
            webhook.start()
        log.info("e911.api.started", webhook=webhook is not None,
                 admin_tokens=len(settings.admin_tokens), msag_version=services.msag.version)
        try:
            yield
        finally:
            if webhook is not None:
                await anyio.to_thread.run_sync(webhook.stop)
            log.info("e911.api.stopped")

    app = FastAPI(title="e911-router API", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = services
    install_error_handlers(app)
    for module in (account, users, addresses, networks, events, calls, records,
                   registrations):
        app.include_router(module.router)

    @app.get("/health", response_model=HealthOut, tags=["health"],
             responses={503: {"model": HealthOut, "description": "The database is down"}})
    def health() -> JSONResponse:
        """Liveness for load balancers (no token needed): 503 when the database is down."""
        up = store.ping()
        body = HealthOut(status="ok" if up else "degraded", database=up,
                         msag_version=services.msag.version)
        return JSONResponse(body.model_dump(), status_code=200 if up else 503)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _without_default_422(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    # Added last = runs first: authenticate before the body is even read.
    app.add_middleware(BodySizeLimit, max_bytes=opts.max_body_bytes)
    app.add_middleware(AuthMiddleware,
                       authenticator=Authenticator(settings.admin_tokens, tokens))
    return app


def _without_default_422(document: dict[str, Any]) -> dict[str, Any]:
    """Drop FastAPI's default 422 (`{"detail": [...]}`), which this API never sends: our
    handlers answer parameter errors with 400 and body errors with 422 in `ErrorModel`."""
    default = "#/components/schemas/HTTPValidationError"
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            schema = (responses.get("422", {}).get("content", {})
                      .get("application/json", {}).get("schema", {}))
            if schema.get("$ref") == default:
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document
