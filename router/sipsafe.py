"""Make text safe to put into a SIP header (RFC 3261 s25.1 grammar), whatever a user typed.

Everything that reaches an outgoing header from user or administrator input (display names,
callback numbers, hosts) passes through one of these functions. They either return a value
that cannot break out of its header, or raise `UnsafeHeaderValue`; none of them guesses.

- `header_value` refuses CR, LF, NUL and every other control character except HTAB: a CR or
  LF ends the header (header injection, RFC 3261 s7.3.1), NUL truncates in C stacks, and no
  SIP header production allows the others.
- `display_name` is the product rule from the seeds ("only letters and numbers"): ASCII
  letters, digits and single spaces, transliterated where a letter has an ASCII base.
- `quoted_string` builds an RFC 3261 s25.1 quoted-string (backslash-escapes `"` and `\\`).
- `is_token`/`token` check the RFC 3261 s25.1 `token` production.
- `sip_uri_user` turns a phone number into a SIP URI user part (digits, optional leading +).
- `host`/`hostport` check RFC 3261 s25.1 `host` (hostname, IPv4, [IPv6]) and `hostport`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

__all__ = [
    "DISPLAY_NAME_MAX_LENGTH",
    "UnsafeHeaderValue",
    "display_name",
    "header_value",
    "host",
    "hostport",
    "is_token",
    "quoted_string",
    "sip_uri_user",
    "token",
]

DISPLAY_NAME_MAX_LENGTH = 32
"""Display names are cut to 32 characters: the customer-name width PSAP screens and ALI
records are built around (legacy CNAM is only 15, so the first 15 should read well)."""


class UnsafeHeaderValue(ValueError):
    """A value that would change the meaning of the SIP message it is put into."""


# RFC 3261 s25.1: CTL-like characters no header production admits (HTAB is LWS, allowed).
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CONTROL_NAMES = {"\r": "CR", "\n": "LF", "\x00": "NUL"}

# RFC 3261 s25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")

# RFC 3966 s3 visual-separator, which people type inside phone numbers.
_VISUAL_SEPARATORS = re.compile(r"[ \-.()]")
_NUMBER = re.compile(r"\+?[0-9]{1,20}")

# RFC 3261 s25.1 hostname: *( domainlabel "." ) toplabel [ "." ]; a toplabel starts with a
# letter, so "1.2.3" is neither a hostname nor an IPv4 address.
_DOMAIN_LABEL = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
_TOP_LABEL = r"(?:[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
_HOSTNAME = re.compile(rf"(?:{_DOMAIN_LABEL}\.)*{_TOP_LABEL}\.?")
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")

# Letters NFKD does not decompose to an ASCII base, spelled the way people write them.
_LATIN_EXTRAS = str.maketrans({
    "ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe",
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Þ": "Th", "þ": "th", "ı": "i",
})
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def header_value(value: str) -> str:
    """Return `value` unchanged if it is safe inside any header; raise `UnsafeHeaderValue`
    naming the first control character (CR, LF, NUL, ...) otherwise."""
    bad = _FORBIDDEN_CONTROL.search(value)
    if bad is not None:
        char = bad.group()
        name = _CONTROL_NAMES.get(char, f"U+{ord(char):04X}")
        raise UnsafeHeaderValue(f"control character {name} in a SIP header value")
    return value


def is_token(text: str) -> bool:
    """True when `text` matches the RFC 3261 s25.1 `token` production."""
    return _TOKEN.fullmatch(text) is not None


def token(text: str) -> str:
    """Return `text` if it is an RFC 3261 token, else raise `UnsafeHeaderValue`."""
    if not is_token(text):
        raise UnsafeHeaderValue(f"not a SIP token: {text!r}")
    return text


def quoted_string(text: str) -> str:
    """RFC 3261 s25.1 quoted-string: `"` and `\\` become quoted-pairs; control characters
    (CR and LF cannot be quoted at all) raise `UnsafeHeaderValue`."""
    header_value(text)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def display_name(text: str, *, max_length: int = DISPLAY_NAME_MAX_LENGTH) -> str:
    """The caller's display name reduced to ASCII letters, digits and single spaces.

    Accented letters lose their accents ("José" -> "Jose"), apostrophes vanish ("O'Brien" ->
    "OBrien"), every other run of non-alphanumerics becomes one space ("Smith-Jones, Inc." ->
    "Smith Jones Inc"). Longer than `max_length`: cut at the last space in the second half,
    else hard. The result may be empty (e.g. a name in a non-Latin script): callers then send
    no display name. Never raises: a 911 call does not fail over a name.
    """
    if max_length < 1:
        raise ValueError("max_length must be positive")
    decomposed = unicodedata.normalize("NFKD", text.translate(_LATIN_EXTRAS))
    ascii_only = "".join(c for c in decomposed if c.isascii())
    words = _NOT_ALNUM.sub(" ", _APOSTROPHES.sub("", ascii_only)).split()
    name = " ".join(words)
    if len(name) <= max_length:
        return name
    cut = name[: max_length + 1]
    space = cut.rfind(" ")
    if space >= max_length // 2:
        return cut[:space].rstrip()
    return name[:max_length].rstrip()


def sip_uri_user(number: str) -> str:
    """A phone number as a SIP URI user part: visual separators (space - . ( )) removed,
    then 1-20 digits with an optional leading "+"; anything else raises `ValueError`."""
    compact = _VISUAL_SEPARATORS.sub("", number)
    if _NUMBER.fullmatch(compact) is None:
        raise ValueError("not a phone number usable as a SIP URI user part")
    return compact


def host(text: str) -> str:
    """Return `text` if it is an RFC 3261 host (hostname, IPv4address, "[" IPv6 "]")."""
    if text.startswith("[") and text.endswith("]"):
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise UnsafeHeaderValue(f"not an IPv6 reference: {text!r}") from None
        return text
    if _IPV4.fullmatch(text):
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise UnsafeHeaderValue(f"not an IPv4 address: {text!r}") from None
        return text
    if len(text) <= 253 and _HOSTNAME.fullmatch(text) is not None:
        return text
    raise UnsafeHeaderValue(f"not a SIP host: {text!r}")


def hostport(text: str) -> str:
    """Return `text` if it is an RFC 3261 hostport: host [":" port], port 1-65535."""
    name, port = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end != -1 and text[end + 1 : end + 2] == ":":
            name, port = text[: end + 1], text[end + 2 :]
    elif text.count(":") == 1:
        name, port = text.split(":")
    host(name)
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise UnsafeHeaderValue(f"not a port: {port!r}")
    if text.endswith(":"):
        raise UnsafeHeaderValue(f"empty port in {text!r}")
    return text
