"""Errors raised by the dial plan.

Both are ``ValueError`` subclasses so a caller that only wants "bad input" can catch that,
and both carry data a caller needs without parsing the message: the SIP status a parse
failure maps to, and the configuration field a lint failure is about.
"""

from __future__ import annotations


class DialPlanParseError(ValueError):
    """The target is not something the dial plan can read (one-line message).

    ``sip_status`` is the answer a SIP ingress should give: 416 (Unsupported URI Scheme,
    RFC 3261 §8.2.2.1) for a scheme we do not route, 400 for a malformed URI.
    """

    def __init__(self, message: str, *, sip_status: int = 400) -> None:
        super().__init__(message)
        self.sip_status = sip_status


class DialPlanConfigError(ValueError):
    """A dial-plan configuration is malformed or unsafe (one-line message).

    ``field`` names the ``DialPlanConfig`` field at fault so the settings loader can name
    the matching environment variable; None when no single field is (a classifier fault).
    """

    def __init__(self, message: str, *, field: str | None) -> None:
        super().__init__(message)
        self.field = field
