"""Classify a dialled target as emergency (911), emergency test (933), normal or invalid.

The rules, in the order they are tried (the first that matches wins; docs/dialplan.md has
the operator's version with examples):

1. ``urn:service:sos*`` is emergency, ``urn:service:test.sos*`` is an emergency test, any
   other service URN is invalid (we have no number to send it to).
2. ``911`` / ``933`` exactly, or ``X911`` / ``X933`` where X is one one-digit access prefix.
   Kari's Law (47 CFR 9.16(a)): 911 must work with and without the outside-line prefix.
3. ``+1911`` / ``+1933``: 911 and 933 written in E.164 by a phone that rewrites everything
   it dials to ``+1...``. No number starts +1 911 (N11 codes are never area codes), so this
   can only be someone calling 911.
4. An operator's extra emergency number (e.g. ``112``), the whole string, maps to 911.
5. N11 service codes other than 911 (211 ... 811) and 988 are normal calls, kept as dialled.
6. An internal extension (extension_min_digits .. extension_max_digits digits), kept as dialled.
7. An external number, normalised to E.164: first as dialled (the local number in its
   ``phone-context``, ``011`` international, 10-digit NANP, ``1`` + 10 digits), then with
   one leading access prefix removed. Other global ``+`` numbers must be valid E.164.
8. Anything else is invalid, with a short reason.

Rules 2-4 compare the whole digit string, never a prefix of it, so a longer number that
starts with or contains 911 (``9115551234``, ``91100``, ``99911``) can never be emergency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

from dialplan.config import DialPlanConfig
from dialplan.target import Scheme, Target, parse_target

EMERGENCY_NUMBER = "911"
TEST_NUMBER = "933"
SOS_URN = "urn:service:sos"
TEST_SOS_URN = "urn:service:test.sos"
#: N11 codes other than 911 (47 CFR 52.101-52.103 abbreviated dialling) and 988 (crisis line).
SERVICE_CODES = frozenset({"211", "311", "411", "511", "611", "711", "811", "988"})
#: Longest digit string worth looking at: "9" + "011" + a 15-digit E.164 number is 19.
MAX_DIGITS = 19
#: ITU-T E.164 §6.1: at most 15 digits after the "+".
E164_MAX_DIGITS = 15
#: NANP international access code (dialled before country code + number).
INTERNATIONAL_PREFIX = "011"

_NUMBER = re.compile(r"\+?[0-9]+")
DEFAULT_CONFIG = DialPlanConfig()


class CallClass(StrEnum):
    """What kind of call a dialled target is."""

    EMERGENCY = "emergency"
    EMERGENCY_TEST = "emergency_test"
    NORMAL = "normal"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Dialed:
    """The outcome of classifying one target."""

    call_class: CallClass
    dialed: str
    """What was dialled: the number with separators removed (prefix still on), a URN
    lower-cased, or the user part as written when it is not a number."""

    normalized: str
    """Where the call goes: ``911``, ``933``, an E.164 number, an extension or a service code
    as dialled; empty for an invalid call."""

    service_urn: str | None
    """RFC 5031 service URN for emergency (``urn:service:sos``, ``...sos.fire``) and test
    (``urn:service:test.sos``) calls; None for normal and invalid calls."""

    access_prefix: str | None
    """The outside-line digit removed to reach ``normalized``; None if none was."""

    reason: str
    """Short machine reason for an invalid call (``not_a_number``, ``too_short``, ...)."""

    @property
    def is_emergency_or_test(self) -> bool:
        """True for calls that must never be blocked (911 and 933 alike)."""
        return self.call_class in (CallClass.EMERGENCY, CallClass.EMERGENCY_TEST)


def classify(target: str, config: DialPlanConfig = DEFAULT_CONFIG) -> Dialed:
    """Classify a Request-URI, name-addr or dial string; raise DialPlanParseError if unreadable."""
    return classify_target(parse_target(target), config)


def classify_target(target: Target, config: DialPlanConfig = DEFAULT_CONFIG) -> Dialed:
    """Classify an already parsed target (see ``classify``)."""
    if target.scheme is Scheme.URN:
        return _classify_service(target.service or "")
    if target.dialed is None:
        return _invalid("", "no_user_part")
    if not _NUMBER.fullmatch(target.dialed):
        return _invalid(target.dialed, "not_a_number")
    if target.dialed.startswith("+"):
        return _classify_global(target.dialed)
    return _classify_local(target.dialed, config, target.phone_context)


def _classify_service(service: str) -> Dialed:
    urn = f"urn:service:{service}"
    if service == "sos" or service.startswith("sos."):
        return _emergency(urn, service_urn=urn)
    if service == "test.sos" or service.startswith("test.sos."):
        return _test(urn, service_urn=urn)
    # counseling.*, test.<other> and the like: nothing in this network answers them.
    return _invalid(urn, "unsupported_service")


def _classify_global(dialed: str) -> Dialed:
    if dialed == "+1" + EMERGENCY_NUMBER:
        return _emergency(dialed)
    if dialed == "+1" + TEST_NUMBER:
        return _test(dialed)
    if len(dialed) - 1 > E164_MAX_DIGITS:
        return _invalid(dialed, "too_long")
    e164 = _valid_e164(dialed)
    if e164 is not None:
        return _normal(dialed, e164)
    return _invalid(dialed, "invalid_number")


def _classify_local(digits: str, config: DialPlanConfig, phone_context: str | None) -> Dialed:
    prefix = digits[0] if len(digits) == 4 and digits[0] in _one_digit(config) else None
    if digits == EMERGENCY_NUMBER or (prefix and digits[1:] == EMERGENCY_NUMBER):
        return _emergency(digits, access_prefix=prefix)
    if digits == TEST_NUMBER or (prefix and digits[1:] == TEST_NUMBER):
        return _test(digits, access_prefix=prefix)
    if digits in config.extra_emergency_numbers:
        return _emergency(digits)
    if digits in SERVICE_CODES:
        return _normal(digits, digits)
    if config.extension_min_digits <= len(digits) <= config.extension_max_digits:
        return _normal(digits, digits)
    if len(digits) > MAX_DIGITS:
        return _invalid(digits, "too_long")
    e164 = _external(digits, config, phone_context)
    if e164 is not None:
        return _normal(digits, e164)
    if digits[0] in _one_digit(config):
        e164 = _external(digits[1:], config, phone_context)
        if e164 is not None:
            return _normal(digits, e164, access_prefix=digits[0])
    if len(digits) < config.extension_min_digits:
        return _invalid(digits, "too_short")
    return _invalid(digits, "invalid_number")


def _one_digit(config: DialPlanConfig) -> tuple[str, ...]:
    # Only one-digit prefixes take part: "99911" must never be 911. lint() refuses longer ones.
    return tuple(p for p in config.access_prefixes if len(p) == 1)


def _external(digits: str, config: DialPlanConfig, phone_context: str | None) -> str | None:
    """E.164 for an external number dialled without '+', or None."""
    if phone_context is not None and phone_context.startswith("+"):
        # RFC 3966 §5.1.5: a local number is read in its global context ("+1", "+1406").
        in_context = _valid_e164(phone_context + digits)
        if in_context is not None:
            return in_context
    if digits.startswith(INTERNATIONAL_PREFIX):
        return _valid_e164("+" + digits[len(INTERNATIONAL_PREFIX) :])
    if len(digits) == 10 or (len(digits) == 11 and digits[0] == "1"):
        return _valid_national(digits, config.default_country)
    return None


def _valid_national(digits: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 1 or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _valid_e164(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _emergency(
    dialed: str, *, access_prefix: str | None = None, service_urn: str = SOS_URN
) -> Dialed:
    return Dialed(CallClass.EMERGENCY, dialed, EMERGENCY_NUMBER, service_urn, access_prefix, "")


def _test(
    dialed: str, *, access_prefix: str | None = None, service_urn: str = TEST_SOS_URN
) -> Dialed:
    return Dialed(CallClass.EMERGENCY_TEST, dialed, TEST_NUMBER, service_urn, access_prefix, "")


def _normal(dialed: str, normalized: str, *, access_prefix: str | None = None) -> Dialed:
    return Dialed(CallClass.NORMAL, dialed, normalized, None, access_prefix, "")


def _invalid(dialed: str, reason: str) -> Dialed:
    return Dialed(CallClass.INVALID, dialed, "", None, None, reason)
