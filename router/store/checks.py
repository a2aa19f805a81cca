"""Argument checks shared by the store's parts: what it refuses before touching the database."""

from __future__ import annotations

from typing import Final

from router.db.errors import InvalidValue
from router.location.model import LANGUAGES

MAX_PAGE: Final = 100


def check_language(field: str, value: str) -> None:
    if value not in LANGUAGES:
        raise InvalidValue(field, f"must be one of {', '.join(sorted(LANGUAGES))}")


def check_sip_user(sip_user: str) -> None:
    if not sip_user or len(sip_user) > 128 or sip_user != sip_user.strip():
        raise InvalidValue("sip_user", "1 to 128 characters, no surrounding spaces")


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidValue("limit", f"must be 1..{MAX_PAGE}")
