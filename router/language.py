"""The languages the router speaks to callers and contacts in (prompts, e-mail, SDP hlang).

E911_DEFAULT_LANGUAGE picks the default (router/settings.py); an account or a user may have its
own (router/location/model.py).
"""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    """Languages we speak to callers and contacts in (prompts, e-mail, SDP hlang)."""

    EN = "en"
    ES = "es"
    FR = "fr"
