"""`/v1/users/{user}`: a user's own emergency information, and the user's API tokens.

An administrator manages every user; a user token reads and updates its own user only (403
for any other). Only an administrator issues tokens (`POST .../tokens`); the token is in that
response and nowhere else.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from router.api.auth import require_admin, require_user
from router.api.checks import check_callback_number, check_display_name, check_label
from router.api.deps import Caller, Deps, IdPath, Limit, StartingAfter, UserPath
from router.api.errors import FieldError, error_responses, invalid
from router.api.models import (
    TokenCreatedOut,
    TokenIn,
    TokenList,
    UserIn,
    UserOut,
    UserPage,
    token_out,
    user_out,
)
from router.db.errors import NotFound
from router.location.model import CallbackPreference

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.get("", response_model=UserPage, responses=error_responses(400, 401, 403))
def list_users(who: Caller, s: Deps, limit: Limit = 20,
               starting_after: StartingAfter = None) -> UserPage:
    """Every user of the account, by SIP user, a page at a time (administrators)."""
    require_admin(who)
    page = s.store.list_users(who.account_id, limit=limit, starting_after=starting_after)
    return UserPage(data=[user_out(u) for u in page.data], has_more=page.has_more)


@router.put("/{user}", response_model=UserOut, status_code=200,
            responses={201: {"model": UserOut, "description": "Created"},
                       **error_responses(400, 401, 403, 413, 422)})
def put_user(user: UserPath, body: UserIn, who: Caller, s: Deps,
             response: Response) -> UserOut:
    """Create or replace the user's display name, own callback number, language and
    callback preference (201 when the user is new)."""
    require_user(who, user)
    errors: list[FieldError] = []
    name, found = check_display_name("display_name", body.display_name, required=False)
    errors += found
    number: str | None = None
    if body.callback_number is not None:
        number, found = check_callback_number("callback_number", body.callback_number)
        errors += found
    preference = CallbackPreference(body.callback_preference)
    if preference is CallbackPreference.OWN and body.callback_number is None:
        errors.append(FieldError("callback_preference", "needs_callback_number",
                                 "callback_preference 'own' needs the user's callback_number"))
    if errors:
        raise invalid(errors)
    try:
        s.store.get_user(who.account_id, user)
        existed = True
    except NotFound:
        existed = False
    saved = s.store.upsert_user(who.account_id, user, display_name=name,
                                callback_number=number, language=body.language,
                                callback_preference=preference)
    response.status_code = 200 if existed else 201
    return user_out(saved)


@router.get("/{user}", response_model=UserOut, responses=error_responses(400, 401, 403, 404))
def get_user(user: UserPath, who: Caller, s: Deps) -> UserOut:
    require_user(who, user)
    return user_out(s.store.get_user(who.account_id, user))


@router.delete("/{user}", status_code=204, response_class=Response,
               responses=error_responses(400, 401, 403, 404, 409))
def delete_user(user: UserPath, who: Caller, s: Deps) -> Response:
    """Delete the user with their saved addresses, bindings and tokens (409 while an
    administrator's network points at one of the addresses)."""
    require_admin(who)
    s.store.delete_user(who.account_id, user)
    return Response(status_code=204)


@router.post("/{user}/tokens", response_model=TokenCreatedOut, status_code=201,
             responses=error_responses(400, 401, 403, 404, 413, 422))
def issue_token(user: UserPath, who: Caller, s: Deps,
                body: TokenIn | None = None) -> TokenCreatedOut:
    """Issue a bearer token for this user (administrators). The token is returned once; the
    router keeps only its SHA-256."""
    require_admin(who)
    label, errors = check_label("label", body.label if body else "")
    if errors:
        raise invalid(errors)
    s.store.get_user(who.account_id, user)
    issued = s.tokens.issue(who.account_id, user, label)
    return TokenCreatedOut(**token_out(issued.record).model_dump(), token=issued.token)


@router.get("/{user}/tokens", response_model=TokenList,
            responses=error_responses(400, 401, 403))
def list_tokens(user: UserPath, who: Caller, s: Deps) -> TokenList:
    """The user's tokens (ids and labels; never the tokens themselves)."""
    require_user(who, user)
    return TokenList(data=[token_out(t) for t in s.tokens.list(who.account_id, user)])


@router.delete("/{user}/tokens/{token_id}", status_code=204, response_class=Response,
               responses=error_responses(400, 401, 403, 404))
def revoke_token(user: UserPath, token_id: IdPath, who: Caller, s: Deps) -> Response:
    """Revoke a token at once (administrators, or the user)."""
    require_user(who, user)
    s.tokens.revoke(who.account_id, user, token_id)
    return Response(status_code=204)

