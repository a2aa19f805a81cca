"""Field checks for what the API stores besides addresses: e-mail contacts, callback numbers,
display names, labels. Pure: each returns the normalised value or `FieldError`s.

Addresses are checked against the MSAG by `router.location.validate` (see `msag_cache.py`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Final

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from router.api.errors import FieldError
from router.location.model import MAX_EMERGENCY_CONTACTS

CALLBACK_REGIONS: Final = frozenset({"US", "CA"})
"""E911 here is US and Canada only (Talkdesk: "only supported in the USA and Canada")."""

DISPLAY_NAME_MAX: Final = 40
LABEL_MAX: Final = 64


def check_display_name(field: str, value: str, *, required: bool = True
                       ) -> tuple[str, list[FieldError]]:
    """Letters and digits, words separated by single spaces, at most 40 characters.

    Talkdesk: the display name sent to the PSAP "must contain only letters and numbers". We
    read that as no punctuation or symbols (they break the SIP display-name in
    P-Asserted-Identity, RFC 3261 section 25.1, and caller-name displays at the PSAP) and
    keep the space between words, which is how a name is written ("Acme Support"); accented
    letters are letters (callers speak French and Spanish too).
    """
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        if required:
            return "", [FieldError(field, "required", f"{field} is required")]
        return "", []
    if len(text) > DISPLAY_NAME_MAX:
        return text, [FieldError(field, "too_long", f"{field} is {len(text)} characters; "
                                                    f"use {DISPLAY_NAME_MAX} or fewer")]
    words = text.split(" ")
    ok = all(word and all(_is_letter(ch) or ch in "0123456789" for ch in word)
             for word in words)
    if not ok:
        cleaned = " ".join(
            "".join(ch for ch in w if _is_letter(ch) or ch in "0123456789") for w in words)
        cleaned = " ".join(cleaned.split())
        return text, [FieldError(
            field, "invalid_display_name",
            f"{field} must contain only letters and numbers (single spaces between words)",
            (cleaned,) if cleaned else ())]
    return text, []


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def check_callback_number(field: str, value: str) -> tuple[str, list[FieldError]]:
    """A valid US or Canadian number in any common form -> E.164 ("+14065473911")."""
    text = value.strip()
    if not text:
        return "", [FieldError(field, "required", f"{field} is required")]
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return text, [FieldError(field, "invalid_phone_number",
                                 f"{field} is not a phone number; give a US or Canadian "
                                 "number such as +14065473911")]
    if not phonenumbers.is_valid_number(number):
        return text, [FieldError(field, "invalid_phone_number",
                                 f"{field} is not a valid phone number")]
    region = phonenumbers.region_code_for_number(number)
    if region not in CALLBACK_REGIONS:
        return text, [FieldError(field, "unsupported_country",
                                 f"{field} must be a US or Canadian number (this one is "
                                 f"{region or 'not in a country'}); E911 covers the US and "
                                 "Canada only")]
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), []


def check_contacts(field: str, values: Sequence[str]) -> tuple[tuple[str, ...],
                                                               list[FieldError]]:
    """1 to 10 e-mail addresses or mailing lists, syntax checked and normalised (domain
    lower-cased, IDNA); no DNS lookups, so the check is synchronous and works offline."""
    errors: list[FieldError] = []
    if not values:
        errors.append(FieldError(field, "required", f"{field} needs at least one e-mail "
                                                    "address"))
    if len(values) > MAX_EMERGENCY_CONTACTS:
        errors.append(FieldError(field, "too_many", f"{field} has {len(values)} entries; "
                                                    f"at most {MAX_EMERGENCY_CONTACTS}"))
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(values):
        path = f"{field}.{i}"
        try:
            email = validate_email(raw.strip(), check_deliverability=False).normalized
        except EmailNotValidError as exc:
            errors.append(FieldError(path, "invalid_email", f"{path}: {exc}"))
            continue
        except (UnicodeError, ValueError) as exc:  # odd IDNA input the library lets through
            errors.append(FieldError(path, "invalid_email", f"{path}: not an e-mail address "
                                                            f"({type(exc).__name__})"))
            continue
        key = email.casefold()
        if key in seen:
            errors.append(FieldError(path, "duplicate", f"{path} repeats {field}.{seen[key]}"))
            continue
        seen[key] = i
        out.append(email)
    return tuple(out), errors


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def check_label(field: str, value: str) -> tuple[str, list[FieldError]]:
    """A free-text label ("home", "Office 3rd floor"): no control or bidi characters."""
    text = unicodedata.normalize("NFC", value).strip()
    if _CONTROL.search(text):
        return text, [FieldError(field, "forbidden_character",
                                 f"{field} contains a control or formatting character")]
    if len(text) > LABEL_MAX:
        return text, [FieldError(field, "too_long", f"{field} is {len(text)} characters; "
                                                    f"use {LABEL_MAX} or fewer")]
    return text, []
