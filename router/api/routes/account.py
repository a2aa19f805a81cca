"""`/v1/account/emergency-settings`: Talkdesk's administrator page, as JSON.

The administrator validates the default address against the MSAG, adds 1 to 10 emergency
contacts, sets the callback (display name, number, language), then turns `enabled` on. The
PUT takes any subset of those fields; every field sent is checked before anything is written,
and all problems come back in one 422. Turning `enabled` on (or clearing a setting while it
is on) is refused with 409 naming the missing settings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter

from router.api.auth import require_admin
from router.api.checks import check_callback_number, check_contacts, check_display_name
from router.api.deps import Caller, Deps
from router.api.errors import ApiError, FieldError, enable_refused, error_responses, invalid
from router.api.models import (
    LANGUAGES,
    EmergencySettingsIn,
    EmergencySettingsOut,
    FieldIssueOut,
    missing_for_enable,
    settings_out,
)
from router.api.msag_cache import validated_or_422, warnings_json
from router.location.model import Callback, ValidatedAddress

router = APIRouter(prefix="/v1/account", tags=["account"])


@router.get("/emergency-settings", response_model=EmergencySettingsOut,
            responses=error_responses(401, 403))
def get_emergency_settings(who: Caller, s: Deps) -> EmergencySettingsOut:
    """The account's emergency settings and what is still missing to enable them."""
    require_admin(who)
    return settings_out(s.store.get_account(who.account_id))


@router.put("/emergency-settings", response_model=EmergencySettingsOut,
            responses=error_responses(400, 401, 403, 409, 413, 422))
def put_emergency_settings(body: EmergencySettingsIn, who: Caller,
                           s: Deps) -> EmergencySettingsOut:
    """Change the settings sent (omitted ones stay; `null` clears one)."""
    require_admin(who)
    sent = body.model_fields_set
    errors: list[FieldError] = []
    changes: dict[str, Any] = {}
    warnings: list[dict[str, object]] = []
    contacts: tuple[str, ...] | None = None

    if "default_address" in sent:
        address: ValidatedAddress | None = None
        if body.default_address is not None:
            result = s.msag.validate(body.default_address.to_input())
            try:
                address = validated_or_422(result, "default_address.")
                warnings = warnings_json(result, "default_address.")
            except ApiError as exc:  # reported together with the other fields' errors
                errors.extend(exc.fields)
        changes["default_address"] = address
    if "emergency_contacts" in sent:
        if body.emergency_contacts is None:
            contacts = ()
        else:
            contacts, found = check_contacts("emergency_contacts", body.emergency_contacts)
            errors.extend(found)
    if "callback" in sent:
        callback: Callback | None = None
        if body.callback is not None:
            name, name_errors = check_display_name("callback.display_name",
                                                   body.callback.display_name)
            number, number_errors = check_callback_number("callback.number",
                                                          body.callback.number)
            language = body.callback.language
            language_errors = [] if language in LANGUAGES else [FieldError(
                "callback.language", "literal_error",
                f"callback.language must be one of {', '.join(LANGUAGES)} (got {language!r})",
                LANGUAGES)]
            errors.extend(name_errors + number_errors + language_errors)
            if not name_errors and not number_errors and not language_errors:
                callback = Callback(name, number, language)
        changes["callback"] = callback
    if "enabled" in sent and body.enabled is None:
        errors.append(FieldError("enabled", "invalid", "enabled must be true or false"))
    if errors:
        raise invalid(errors)

    current = s.store.get_account(who.account_id)
    enabled = body.enabled if body.enabled is not None else current.enabled
    after = replace(
        current,
        default_address=changes.get("default_address", current.default_address),
        callback=changes.get("callback", current.callback),
        contacts=current.contacts if contacts is None else contacts,
    )
    missing = missing_for_enable(after)
    if enabled and missing:
        raise enable_refused(missing)
    if body.enabled is not None:
        changes["enabled"] = body.enabled

    # Two store calls (contacts, then the rest); ordered so that no state in between is one
    # the store refuses: when the result is enabled, every setting is present before and
    # after each step; when it is disabled, disable first.
    if enabled:
        if contacts is not None:
            s.store.set_contacts(who.account_id, contacts)
        account = s.store.update_account(who.account_id, **changes)
    else:
        account = s.store.update_account(who.account_id, **changes)
        if contacts is not None:
            s.store.set_contacts(who.account_id, contacts)
            account = s.store.get_account(who.account_id)
    out = settings_out(account)
    out.warnings = [FieldIssueOut.model_validate(w) for w in warnings]
    return out
