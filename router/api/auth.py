"""Bearer tokens (RFC 6750): administrators' from the settings, users' issued by the API.

- An **admin token** is one of `E911_ADMIN_TOKENS`. Every configured token is compared with
  `hmac.compare_digest`, all of them every time, so the time a guess takes says nothing
  about how close it came.
- A **user token** is `e911u_` plus 256 random bits (`secrets.token_urlsafe(32)`), shown once
  when an administrator issues it (`POST /v1/users/{user}/tokens`). The store keeps only its
  SHA-256 (`api_tokens.token_sha256`): a leaked database gives no usable token, and with
  256 bits of entropy a plain hash is enough (no salt or slow hash is needed against
  guessing). A user token reaches only its own user's resources; deleting the user deletes
  its tokens (ON DELETE CASCADE).

`Authenticator.authenticate()` runs in `AuthMiddleware`, before the request body is read, so
an unauthenticated request costs no parsing and always gets 401 first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final

import anyio.to_thread
import sqlalchemy as sa
import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from router.api.errors import ApiError, ErrorType, forbidden, unauthenticated
from router.db import schema
from router.db.errors import NotFound
from router.db.transactions import Transactions
from router.location.model import DEFAULT_ACCOUNT_ID
from router.store.ids import new_id
from router.store.store import Store

log = structlog.get_logger(__name__)

USER_TOKEN_PREFIX: Final = "e911u_"  # noqa: S105 (a prefix, not a secret)
MAX_TOKEN_LENGTH: Final = 512


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an administrator of the account, or one user of it."""

    role: Role
    account_id: str
    sip_user: str | None = None
    token_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_act_for(self, sip_user: str) -> bool:
        return self.is_admin or self.sip_user == sip_user


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A user token's record (never its secret)."""

    id: str
    account_id: str
    sip_user: str
    label: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    record: ApiToken
    token: str
    """The bearer token itself: returned once, never stored."""


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """User tokens in `api_tokens`, over the location store's engine."""

    def __init__(self, store: Store) -> None:
        self._db = Transactions(store.engine)

    def issue(self, account_id: str, sip_user: str, label: str = "") -> IssuedToken:
        token = USER_TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = ApiToken(new_id("tok"), account_id, sip_user, label, datetime.now(UTC))
        t = schema.api_tokens
        try:
            with self._db.write() as conn:
                conn.execute(t.insert().values(
                    id=record.id, account_id=account_id, sip_user=sip_user,
                    token_sha256=token_sha256(token), label=label,
                    created_at=record.created_at))
        except IntegrityError as exc:  # the user was deleted a moment ago (foreign key)
            raise NotFound("user", sip_user) from exc
        log.info("e911.api.token_issued", account_id=account_id, token_id=record.id)
        return IssuedToken(record, token)

    def lookup(self, token: str) -> ApiToken | None:
        t = schema.api_tokens
        with self._db.engine.connect() as conn:
            row = conn.execute(
                sa.select(t).where(t.c.token_sha256 == token_sha256(token))).first()
        return _token_from(row) if row is not None else None

    def list(self, account_id: str, sip_user: str) -> list[ApiToken]:
        t = schema.api_tokens
        with self._db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t).where(t.c.account_id == account_id, t.c.sip_user == sip_user)
                .order_by(t.c.id)).all()
        return [_token_from(r) for r in rows]

    def revoke(self, account_id: str, sip_user: str, token_id: str) -> None:
        t = schema.api_tokens
        with self._db.write() as conn:
            removed = conn.execute(t.delete().where(
                t.c.id == token_id, t.c.account_id == account_id,
                t.c.sip_user == sip_user)).rowcount
        if not removed:
            raise NotFound("token", token_id)
        log.info("e911.api.token_revoked", account_id=account_id, token_id=token_id)


def _token_from(row: Any) -> ApiToken:
    return ApiToken(row.id, row.account_id, row.sip_user, row.label, row.created_at)


class Authenticator:
    """Bearer token -> `Principal`, or an `ApiError` (401)."""

    def __init__(self, admin_tokens: Sequence[str], tokens: TokenStore,
                 account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._admin = tuple(t.encode("utf-8") for t in admin_tokens)
        self._tokens = tokens
        self._account_id = account_id

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise unauthenticated("an Authorization: Bearer <token> header is required")
        scheme, _, credentials = authorization.partition(" ")
        token = credentials.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated("use the Bearer scheme: Authorization: Bearer <token>")
        if len(token) > MAX_TOKEN_LENGTH:
            raise unauthenticated("unknown or revoked token")
        given = token.encode("utf-8")
        admin = False
        for candidate in self._admin:
            admin |= hmac.compare_digest(given, candidate)
        if admin:
            return Principal(Role.ADMIN, self._account_id)
        if token.startswith(USER_TOKEN_PREFIX):
            found = self._tokens.lookup(token)
            if found is not None:
                return Principal(Role.USER, found.account_id, found.sip_user, found.id)
        raise unauthenticated("unknown or revoked token")


class AuthMiddleware:
    """Authenticates every `/v1/` request before routing; the principal goes in
    `request.state.principal`. `/openapi.json` and `/health` stay open."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator,
                 prefix: str = "/v1/") -> None:
        self.app = app
        self.authenticator = authenticator
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization")
        try:
            principal = await anyio.to_thread.run_sync(self.authenticator.authenticate,
                                                       header)
        except ApiError as exc:
            await _send_error(send, exc)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


async def _send_error(send: Send, exc: ApiError) -> None:
    body = json.dumps(exc.to_json(), separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- what routes ask for ------------------------------------------------------------------


_bearer = HTTPBearer(auto_error=False, description="An administrator token from "
                     "E911_ADMIN_TOKENS or a user token issued by POST /v1/users/{user}/tokens")


def principal(request: Request,
              _documented: Annotated[HTTPAuthorizationCredentials | None,
                                     Depends(_bearer)] = None) -> Principal:
    """The caller (set by `AuthMiddleware`; the bearer dependency only documents the scheme
    in the OpenAPI document)."""
    found = getattr(request.state, "principal", None)
    if not isinstance(found, Principal):  # a /v1 route mounted outside the middleware
        raise ApiError(401, ErrorType.UNAUTHENTICATED, "not authenticated")
    return found


def require_admin(who: Principal) -> None:
    if not who.is_admin:
        raise forbidden("this needs an administrator token")


def require_user(who: Principal, sip_user: str) -> None:
    """403 unless the caller is an administrator or this very user."""
    if not who.may_act_for(sip_user):
        raise forbidden(f"this token belongs to another user; it may not access user "
                        f"{sip_user!r}")


__all__ = ["ApiToken", "AuthMiddleware", "Authenticator", "IssuedToken", "Principal", "Role",
           "TokenStore", "principal", "require_admin", "require_user", "token_sha256"]
