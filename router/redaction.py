"""What of a setting's value may be printed or logged: secrets hidden, URLs without credentials.

The one decision point (docs/security.md): `SettingsError` messages, `config show` and the
store's description (`Store.describe()`) all go through it. Scheme, host, port and path stay,
so an operator can still tell which server is meant.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_SECRET_VARIABLE = re.compile(r"_(?:TOKENS?|KEY|SECRET)$|PASSWORD$|PASSWD$")
"""Variables whose whole value is a secret (E911_ADMIN_TOKENS, E911_RECORDS_KEY,
E911_WEBHOOK_SECRET, any *_TOKEN(S)/*_KEY/*_SECRET/*PASSWORD). A *_KEY_FILE is a path."""

_ACCOUNT_SCHEMES = frozenset({"postgresql", "postgres", "sqlite", "mysql", "mariadb", "smtp",
                              "smtps"})
"""Schemes (before any "+driver") whose URL user name is an account name, shown. Elsewhere
(webhooks) the userinfo is often the credential itself (https://TOKEN@host): all masked."""

_HARMLESS_QUERY_KEYS = frozenset({"sslmode", "connect_timeout", "application_name", "options",
                                  "target_session_attrs", "cafile", "sslrootcert", "timeout"})
"""URL query keys whose values are settings, not credentials; every other value is masked."""

_TOKEN_LIKE = re.compile(r"(?=.*[A-Za-z])(?=.*[0-9])[A-Za-z0-9_\-]{16,}")
"""A path segment that looks like a capability token (Slack, Teams and Discord webhook URLs
carry theirs in the path)."""

MASK = "***"


def is_secret_variable(name: str) -> bool:
    """True when the whole value of setting `name` is a secret."""
    return _SECRET_VARIABLE.search(name.upper()) is not None


def redact_url(url: str) -> str:
    """`url` with its credentials masked: the password (and, outside database and SMTP URLs,
    the user name), query values other than known settings, token-like path segments of
    http(s) URLs, and the fragment. Scheme, host, port and path stay, so an operator can
    still tell which server is meant."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<hidden: not a URL>"
    userinfo, at, netloc = parts.netloc.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        if parts.scheme.partition("+")[0] in _ACCOUNT_SCHEMES and user:
            netloc = f"{user}:{MASK}@{netloc}" if colon else f"{user}@{netloc}"
        else:
            netloc = f"{MASK}@{netloc}"
    path = parts.path
    if parts.scheme in ("http", "https"):
        path = "/".join(MASK if _TOKEN_LIKE.fullmatch(s) else s for s in path.split("/"))
    query = "&".join(
        item if key in _HARMLESS_QUERY_KEYS else f"{key}={MASK}" if sep else MASK
        for item in parts.query.split("&") if item
        for key, sep, _ in (item.partition("="),))
    text = urlunsplit(("", netloc, path, query, MASK if parts.fragment else ""))
    # urlunsplit drops an empty authority ("sqlite:///var/e911.db" would lose its "//").
    if url[len(parts.scheme) + 1:].startswith("//") and not text.startswith("//"):
        text = "//" + text
    return f"{parts.scheme}:{text}" if parts.scheme else text


def redacted(name: str, value: str) -> str:
    """The value of setting `name` as it may be printed or logged."""
    if is_secret_variable(name):
        return "<hidden>" if value else ""
    if name.upper().endswith("_URL") and value:
        return redact_url(value)
    return value
