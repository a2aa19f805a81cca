"""One error shape for every failure: `{"error": {"type", "message", "fields": [...]}}`.

Handlers registered by `install_error_handlers` turn FastAPI's own errors (malformed JSON,
body validation, unknown routes), the store's errors (`NotFound`, `Conflict`, `InvalidValue`)
and our `ApiError` into that shape, so a client switches on `error.type` and `fields[].code`
and never sees FastAPI's default `{"detail": ...}`.

Status codes: 400 the request itself is malformed (not JSON, a bad query or path parameter,
a bad header); 401 no or unknown bearer token; 403 the token may not do this; 404 no such
resource (for this caller); 409 the change contradicts stored state; 413 body too large; 422
the JSON is well formed but a field is invalid (with per-field codes and, for addresses, the
MSAG's suggestions); 503 the database is not answering; 500 (`internal_error`) only for a
bug, still in this shape. The HTTP server's own 400 for a request it cannot parse is sent
in this shape too (`router/api/server.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from router.db.errors import Conflict, EnableRefused, InvalidValue, NotFound

log = structlog.get_logger(__name__)


class ErrorType(StrEnum):
    """`error.type`: stable values a client may switch on."""

    INVALID_REQUEST = "invalid_request"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    EMERGENCY_SETTINGS_INCOMPLETE = "emergency_settings_incomplete"
    REQUEST_TOO_LARGE = "request_too_large"
    VALIDATION_ERROR = "validation_error"
    UNAVAILABLE = "service_unavailable"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One finding about one field, addressed by a dotted path ("default_address.street",
    "emergency_contacts.2")."""

    field: str
    code: str
    message: str
    suggestions: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "code": self.code, "message": self.message,
                "suggestions": list(self.suggestions)}


class ApiError(Exception):
    """An error that knows its HTTP answer (raised by routes, turned into JSON once)."""

    def __init__(self, status: int, type_: ErrorType, message: str,
                 fields: Sequence[FieldError] = (),
                 headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(f"{status} {type_.value}: {message}")
        self.status = status
        self.type = type_
        self.message = message
        self.fields = tuple(fields)
        self.headers = tuple(headers)

    def to_json(self) -> dict[str, Any]:
        return error_body(self.type, self.message, self.fields)


def error_body(type_: ErrorType, message: str,
               fields: Sequence[FieldError] = ()) -> dict[str, Any]:
    return {"error": {"type": type_.value, "message": message,
                      "fields": [f.to_json() for f in fields]}}


def invalid(fields: Sequence[FieldError], message: str = "") -> ApiError:
    """422 with per-field errors; the message names the fields when none is given."""
    names = ", ".join(dict.fromkeys(f.field for f in fields))
    return ApiError(422, ErrorType.VALIDATION_ERROR,
                    message or f"invalid field(s): {names}", tuple(fields))


def unauthenticated(message: str) -> ApiError:
    # RFC 6750 section 3: a 401 names the scheme in WWW-Authenticate.
    return ApiError(401, ErrorType.UNAUTHENTICATED, message,
                    headers=(("WWW-Authenticate", 'Bearer realm="e911-router"'),))


def forbidden(message: str) -> ApiError:
    return ApiError(403, ErrorType.FORBIDDEN, message)


# --- OpenAPI description of the shape ----------------------------------------------------


class FieldErrorModel(BaseModel):
    field: str
    code: str
    message: str
    suggestions: list[str]


class ErrorDetail(BaseModel):
    type: str
    message: str
    fields: list[FieldErrorModel]


class ErrorModel(BaseModel):
    """Every non-2xx response body."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting these error statuses in the OpenAPI document."""
    descriptions = {
        400: "Malformed request (JSON, query or path parameter)",
        401: "Missing or unknown bearer token",
        403: "The token may not do this",
        404: "No such resource",
        409: "Conflicts with stored state",
        413: "Request body too large",
        422: "Invalid fields",
        503: "A service this needs is not available (e.g. the records key)",
    }
    return {s: {"model": ErrorModel, "description": descriptions[s]} for s in statuses}


# --- handlers ------------------------------------------------------------------------------

_BODY = "body"


def _json(error: ApiError) -> JSONResponse:
    return JSONResponse(error.to_json(), status_code=error.status, headers=dict(error.headers))


def _field_path(loc: Sequence[Any]) -> str:
    """("body", "default_address", "street") -> "default_address.street";
    ("query", "limit") -> "limit"."""
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in (_BODY, "query", "path",
                                                                "header") else list(map(str, loc))
    return ".".join(parts) or str(loc[0] if loc else "")


_CODES = {"extra_forbidden": "unknown_field", "missing": "required"}


def from_request_validation(exc: RequestValidationError) -> ApiError:
    """FastAPI's validation errors in our shape: malformed JSON and bad parameters are 400,
    well-formed JSON with bad fields is 422."""
    fields: list[FieldError] = []
    malformed = False
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        kind = str(err.get("type", "invalid"))
        if kind == "json_invalid":
            ctx = err.get("ctx") or {}
            detail = ctx.get("error", "") if isinstance(ctx, dict) else ""
            return ApiError(400, ErrorType.INVALID_REQUEST,
                            f"request body is not valid JSON{': ' + detail if detail else ''}")
        if kind in ("model_attributes_type", "dict_type", "model_type") and tuple(loc) == (_BODY,):
            return ApiError(400, ErrorType.INVALID_REQUEST, "the request body must be a JSON "
                            "object (Content-Type: application/json)")
        if not loc or loc[0] != _BODY:
            malformed = True
        path = _field_path(loc)
        message = str(err.get("msg", "invalid value"))
        if kind == "extra_forbidden":
            message = f"unknown field {path!r}"
        elif kind == "missing":
            message = f"{path} is required"
        fields.append(FieldError(path, _CODES.get(kind, kind), message))
    if malformed:
        names = ", ".join(dict.fromkeys(f.field for f in fields))
        return ApiError(400, ErrorType.INVALID_REQUEST, f"invalid parameter(s): {names}",
                        tuple(fields))
    return invalid(fields)


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return _json(exc)

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _json(from_request_validation(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kinds = {400: ErrorType.INVALID_REQUEST, 401: ErrorType.UNAUTHENTICATED,
                 403: ErrorType.FORBIDDEN, 404: ErrorType.NOT_FOUND,
                 405: ErrorType.METHOD_NOT_ALLOWED, 409: ErrorType.CONFLICT,
                 413: ErrorType.REQUEST_TOO_LARGE}
        kind = kinds.get(exc.status_code, ErrorType.INVALID_REQUEST)
        message = exc.detail if isinstance(exc.detail, str) else kind.value
        if exc.status_code == 404 and message == "Not Found":
            message = "no such endpoint"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # RFC 9110 section 15.5.6: Allow lists every method of the resource. FastAPI has
            # one route per method, so Starlette names only the first route's.
            headers["Allow"] = ", ".join(allowed_methods(request))
            message = f"{request.method} is not allowed here; use {headers['Allow']}"
        return JSONResponse(error_body(kind, message), status_code=exc.status_code,
                            headers=headers)

    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, NotFound)
        return _json(ApiError(404, ErrorType.NOT_FOUND, f"{exc.kind} {exc.key!r} not found"))

    async def conflict(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, EnableRefused):
            return _json(enable_refused(exc.missing))
        return _json(ApiError(409, ErrorType.CONFLICT, str(exc)))

    async def invalid_value(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InvalidValue)
        message = str(exc).removeprefix(f"{exc.field}: ")
        return _json(invalid([FieldError(exc.field, "invalid", message)]))

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        log.error("e911.api.database_unavailable", path=request.url.path,
                  error=type(exc).__name__)
        return _json(ApiError(503, ErrorType.UNAVAILABLE, "the database is not answering; "
                                                          "try again shortly"))

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not the client's doing: still the one error shape, and the log names the
        # exception type only (a traceback's values could hold request data).
        log.error("e911.api.internal_error", path=request.url.path,
                  error=type(exc).__name__)
        return _json(ApiError(500, ErrorType.INTERNAL_ERROR, "internal error; the request "
                                                             "was not completed"))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(Exception, internal_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Conflict, conflict)
    app.add_exception_handler(InvalidValue, invalid_value)
    app.add_exception_handler(OperationalError, database_down)


def allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match is not Match.NONE and route_methods:
            methods |= set(route_methods)
    return sorted(methods)


ENABLE_REQUIREMENTS = {
    "default_address": "a default address validated against the MSAG",
    "emergency_contacts": "at least one emergency contact e-mail",
    "callback": "a callback number with display name and language",
}


def enable_refused(missing: Sequence[str]) -> ApiError:
    """409: emergency calling cannot be enabled until these settings exist (Talkdesk: "After
    filling out the mandatory fields, you can enable the E911 feature")."""
    return ApiError(
        409, ErrorType.EMERGENCY_SETTINGS_INCOMPLETE,
        "emergency calling cannot be enabled until these are set: " + ", ".join(missing),
        tuple(FieldError(name, "required", f"{name} is required to enable emergency calling: "
                                           f"{ENABLE_REQUIREMENTS.get(name, name)}")
              for name in missing),
    )
