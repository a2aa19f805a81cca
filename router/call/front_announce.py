"""The worker's 302 when the front plays "address not registered" (issue 16). Pure."""

from __future__ import annotations

ANNOUNCE_HEADER = "X-E911-Announce"
FRONT_CONTACT = "<sip:announce@e911-router.invalid>"
"""RFC 3261 s21.3: a 3xx carries a Contact. The front never follows this one (it announces);
`.invalid` (RFC 2606) so nothing else could either."""


def front_announce_headers(language: str) -> tuple[tuple[str, str], ...]:
    """The worker's whole answer when the front plays the prompt (issue 16): a 302 naming the
    prompt's language, removed by Kamailio before anything reaches the caller."""
    return (("Contact", FRONT_CONTACT), (ANNOUNCE_HEADER, language))
