"""Read what was dialled out of a Request-URI, a To/name-addr value or a typed dial string.

Forms read here:

- ``sip:`` / ``sips:`` (RFC 3261 §19.1): the user part, with a password, telephone-subscriber
  parameters (``;phone-context=``), URI parameters (``;user=phone``) and headers (``?...``);
- ``tel:`` (RFC 3966): global ``+1...`` and local numbers with ``;phone-context=``;
- ``urn:service:`` (RFC 5031), case-insensitive;
- a name-addr ``"Name" <uri>;tag=...`` (RFC 3261 §20.10 / §25.1);
- a plain dial string as typed (``9-911``, ``(406) 555-1234``).

Visual separators ``-.()`` (RFC 3966 §5.1.1) and spaces are removed from anything that is a
number once they are gone. Nothing here decides what the number *means*: that is
``dialplan.classify``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote_to_bytes

from dialplan.errors import DialPlanParseError

# RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), compared case-insensitively.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(.*)", re.DOTALL)
# Every character class below is spelled [0-9], never \d: \d also matches non-ASCII digits.
_NUMBER = re.compile(r"\+?[0-9]+")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOSTPORT = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+)(?::[0-9]{1,5})?")
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
# RFC 5031 §3: a service is labels of let-dig ( *(let-dig / "-") let-dig ) joined by ".".
_SERVICE = re.compile(r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*")
_SOS = re.compile(r"sos(?![a-z0-9\-])")
_TEST_SOS = re.compile(r"test\.sos(?![a-z0-9\-])")
_VISUAL_SEPARATORS = str.maketrans("", "", "-.() ")


class Scheme(StrEnum):
    """Which form the target was written in."""

    SIP = "sip"
    SIPS = "sips"
    TEL = "tel"
    URN = "urn"
    DIAL_STRING = "dial_string"


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed target: who was dialled, before any dial-plan rule is applied."""

    scheme: Scheme
    dialed: str | None
    """The sip/sips user part, the tel number or the dial string, %-escapes decoded and
    visual separators removed when what is left is a number (``+14065551234``, ``9911``);
    left as written otherwise (``alice``). None for a service URN or a user-less SIP URI."""

    host: str | None = None
    """The sip/sips host (and port), lower-cased; None for other forms."""

    phone_context: str | None = None
    """The ``phone-context`` of a local number (RFC 3966 §5.1.5): ``+1`` or a domain."""

    user_param: str | None = None
    """The sip/sips ``user=`` URI parameter, lower-cased (``phone``, ``dialstring``)."""

    service: str | None = None
    """For ``urn:service:``, the lower-cased service (``sos``, ``sos.fire``, ``test.sos``)."""


def parse_target(text: str) -> Target:
    """Parse a Request-URI, name-addr or dial string; raise ``DialPlanParseError`` if unreadable."""
    stripped = text.strip()
    if not stripped:
        raise DialPlanParseError("empty target")
    if _CONTROL.search(stripped):
        raise DialPlanParseError("control character in target")
    uri = _unwrap_name_addr(stripped)
    match = _SCHEME.fullmatch(uri)
    if match is None:
        return Target(scheme=Scheme.DIAL_STRING, dialed=_dialed(uri))
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme in ("sip", "sips"):
        return _parse_sip(Scheme(scheme), rest)
    if scheme == "tel":
        return _parse_tel(rest)
    if scheme == "urn":
        return _parse_urn(rest)
    raise DialPlanParseError(f"unsupported URI scheme {scheme!r}", sip_status=416)


def _unwrap_name_addr(text: str) -> str:
    """Return the URI inside ``[display-name] <uri> [;params]`` (RFC 3261 §20.10), or text."""
    if "<" not in text and ">" not in text:
        return text
    rest = text
    if rest.startswith('"'):
        rest = rest[_closing_quote(rest) + 1 :].lstrip()
        if not rest.startswith("<"):
            raise DialPlanParseError("expected '<' after the quoted display name")
    opening = rest.find("<")
    if opening == -1:
        raise DialPlanParseError("'>' without a matching '<'")
    closing = rest.find(">", opening)
    if closing == -1:
        raise DialPlanParseError("'<' without a matching '>'")
    inner = rest[opening + 1 : closing].strip()
    trailer = rest[closing + 1 :].strip()
    if not inner:
        raise DialPlanParseError("nothing between '<' and '>'")
    if "<" in inner:
        raise DialPlanParseError("nested '<' in name-addr")
    # After '>' only header parameters (";tag=...") may follow; they never change the target.
    if trailer and not trailer.startswith(";"):
        raise DialPlanParseError("unexpected text after '>'")
    return inner


def _closing_quote(text: str) -> int:
    """Index of the quote ending the quoted-string that starts text (RFC 3261 §25.1)."""
    index = 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == '"':
            return index
        index += 1
    raise DialPlanParseError("unterminated quoted display name")


def _parse_sip(scheme: Scheme, rest: str) -> Target:
    at = rest.find("@")
    question = rest.find("?")
    if at != -1 and (question == -1 or at < question):
        userinfo: str | None = rest[:at]
        hostpart = rest[at + 1 :]
    else:
        userinfo, hostpart = None, rest
    # Headers (RFC 3261 §19.1.1, after '?') never change who was dialled.
    hostport, _, uri_params_text = hostpart.partition("?")[0].partition(";")
    uri_params = _params(uri_params_text, f"{scheme.value} URI parameters")
    user_param = uri_params.get("user")
    if userinfo is None:
        return _parse_userless_sip(scheme, hostport, user_param)
    if not hostport:
        raise DialPlanParseError(f"{scheme.value} URI has no host after '@'")
    _check_hostport(scheme, hostport)
    # userinfo = ( user / telephone-subscriber ) [ ":" password ]; the password is dropped.
    user = userinfo.partition(":")[0]
    number_text, _, subscriber_params_text = user.partition(";")
    if not number_text:
        raise DialPlanParseError(f"{scheme.value} URI has an empty user part")
    subscriber_params = _params(subscriber_params_text, "telephone-subscriber parameters")
    return Target(
        scheme=scheme,
        dialed=_dialed(_unescape(number_text, f"{scheme.value} user part")),
        host=hostport.lower(),
        phone_context=_phone_context(subscriber_params.get("phone-context")),
        user_param=user_param,
    )


def _parse_userless_sip(scheme: Scheme, hostport: str, user_param: str | None) -> Target:
    if not hostport:
        raise DialPlanParseError(f"{scheme.value} URI has no user and no host")
    # "sip:911" has no valid host reading (a top label must start with a letter, RFC 3261
    # §25.1, and it is no IPv4 address), so read it as the number a user typed rather than
    # let a 911 fail; "sip:10.0.0.1" stays a host.
    unseparated = hostport.translate(_VISUAL_SEPARATORS)
    if _NUMBER.fullmatch(unseparated) and not _IPV4.fullmatch(hostport):
        return Target(scheme=scheme, dialed=unseparated, user_param=user_param)
    _check_hostport(scheme, hostport)
    return Target(scheme=scheme, dialed=None, host=hostport.lower(), user_param=user_param)


def _check_hostport(scheme: Scheme, hostport: str) -> None:
    if not _HOSTPORT.fullmatch(hostport):
        raise DialPlanParseError(f"malformed host in {scheme.value} URI")


def _parse_tel(rest: str) -> Target:
    # RFC 3966 §3: telephone-subscriber = global-number / local-number, then ";par"s.
    number_text, _, params_text = rest.partition(";")
    if not number_text:
        raise DialPlanParseError("tel URI has no number")
    params = _params(params_text, "tel URI parameters")
    return Target(
        scheme=Scheme.TEL,
        dialed=_dialed(_unescape(number_text, "tel number")),
        phone_context=_phone_context(params.get("phone-context")),
    )


def _parse_urn(rest: str) -> Target:
    namespace, colon, service_text = rest.partition(":")
    if not colon or namespace.lower() != "service":
        raise DialPlanParseError(
            f"unsupported URN namespace {namespace!r} (only urn:service: is dialable)",
            sip_status=416,
        )
    # RFC 5031 §3: the ABNF literals are case-insensitive (RFC 5234 §2.3).
    service = service_text.strip().lower()
    if not service:
        raise DialPlanParseError("urn:service: names no service")
    # Any sub-service of sos is a request for emergency help; a malformed tail must not
    # turn it into something else, so it falls back to the top-level service.
    if _SOS.match(service):
        return Target(scheme=Scheme.URN, dialed=None, service=_well_formed(service, "sos"))
    if _TEST_SOS.match(service):
        return Target(scheme=Scheme.URN, dialed=None, service=_well_formed(service, "test.sos"))
    if not _SERVICE.fullmatch(service):
        raise DialPlanParseError("malformed service URN")
    return Target(scheme=Scheme.URN, dialed=None, service=service)


def _well_formed(service: str, fallback: str) -> str:
    return service if _SERVICE.fullmatch(service) else fallback


def _params(text: str, where: str) -> dict[str, str]:
    """Split ``name[=value];...`` into lower-case names and %-decoded values (first wins)."""
    params: dict[str, str] = {}
    for item in text.split(";"):
        if not item:
            continue
        name, _, value = item.partition("=")
        if not name:
            raise DialPlanParseError(f"parameter without a name in {where}")
        params.setdefault(name.strip().lower(), _unescape(value.strip(), where).lower())
    return params


def _phone_context(value: str | None) -> str | None:
    if value is None:
        return None
    # RFC 3966 §5.1.5: global-number-digits ("+1", "+1-406") or a domain name.
    unseparated = value.translate(_VISUAL_SEPARATORS)
    return unseparated if value.startswith("+") and _NUMBER.fullmatch(unseparated) else value


def _unescape(text: str, where: str) -> str:
    """Decode RFC 3986 §2.1 %-escapes (RFC 3261 §19.1.4: escaped equals unescaped)."""
    if "%" not in text:
        return text
    if _BAD_ESCAPE.search(text):
        raise DialPlanParseError(f"malformed %-escape in {where}")
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise DialPlanParseError(f"%-escapes in {where} are not UTF-8") from None


def _dialed(text: str) -> str:
    unseparated = text.translate(_VISUAL_SEPARATORS)
    return unseparated if _NUMBER.fullmatch(unseparated) else text
