"""The dial plan's configuration: what an operator may change, checked when it is built.

``__post_init__`` checks shape only (digits, lengths, ranges). Whether a well-formed
configuration is *safe* (911 and 933 still classify as they must) is ``lint``'s job, which
runs the classifier itself over every form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from dialplan.errors import DialPlanConfigError

_DIGITS = re.compile(r"[0-9]+")
_REGION = re.compile(r"[A-Z]{2}")

#: Longest internal extension we accept: ten digits and more are NANP numbers.
EXTENSION_DIGITS_LIMIT = 9
#: Emergency numbers used around the world are two to five digits (15, 112, 10111).
EXTRA_NUMBER_MIN_DIGITS = 2
EXTRA_NUMBER_MAX_DIGITS = 6


@dataclass(frozen=True, slots=True)
class DialPlanConfig:
    """How this site dials; every field has a safe default."""

    access_prefixes: tuple[str, ...] = tuple("0123456789")
    """Outside-line digits a user may dial before a number (the X of X911 / X933).

    Each must be one digit; ``lint`` refuses longer ones (``99911`` is never 911)."""

    extra_emergency_numbers: tuple[str, ...] = ()
    """Further dial strings an operator maps to 911, matched as the whole string
    (e.g. ``"112"`` for visitors from Europe)."""

    extension_min_digits: int = 2
    """Shortest internal extension, kept as dialled."""

    extension_max_digits: int = 6
    """Longest internal extension, kept as dialled (at most 9: ten digits is a NANP number)."""

    default_country: str = "US"
    """Region for numbers dialled without a country code; must be in the NANP (+1)."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "access_prefixes", _digit_strings("access_prefixes", self.access_prefixes)
        )
        extras = _digit_strings("extra_emergency_numbers", self.extra_emergency_numbers)
        for number in extras:
            if not EXTRA_NUMBER_MIN_DIGITS <= len(number) <= EXTRA_NUMBER_MAX_DIGITS:
                raise DialPlanConfigError(
                    f"extra_emergency_numbers: {number!r} must have "
                    f"{EXTRA_NUMBER_MIN_DIGITS} to {EXTRA_NUMBER_MAX_DIGITS} digits",
                    field="extra_emergency_numbers",
                )
        object.__setattr__(self, "extra_emergency_numbers", extras)
        _check_extension_bounds(self.extension_min_digits, self.extension_max_digits)
        _check_region(self.default_country)


def _digit_strings(field: str, value: object) -> tuple[str, ...]:
    # A bare str would iterate as characters ("911" -> "9", "1", "1"): refuse it.
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise DialPlanConfigError(
            f"{field}: expected a tuple of digit strings, got {type(value).__name__}",
            field=field,
        )
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str) or not _DIGITS.fullmatch(item):
            raise DialPlanConfigError(f"{field}: {item!r} is not a string of digits", field=field)
        if item in seen:
            raise DialPlanConfigError(f"{field}: {item!r} is listed twice", field=field)
        seen.add(item)
    return tuple(value)


def _check_extension_bounds(low: object, high: object) -> None:
    low_digits = _extension_digits("extension_min_digits", low)
    high_digits = _extension_digits("extension_max_digits", high)
    if low_digits > high_digits:
        raise DialPlanConfigError(
            f"extension_min_digits: {low_digits} is greater than "
            f"extension_max_digits ({high_digits})",
            field="extension_min_digits",
        )


def _extension_digits(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DialPlanConfigError(f"{field}: expected an integer, got {value!r}", field=field)
    if not 1 <= value <= EXTENSION_DIGITS_LIMIT:
        raise DialPlanConfigError(
            f"{field}: {value} is outside 1..{EXTENSION_DIGITS_LIMIT}", field=field
        )
    return value


def _check_region(region: object) -> None:
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise DialPlanConfigError(
            f"default_country: {region!r} is not a two-letter upper-case region code",
            field="default_country",
        )
    if phonenumbers.country_code_for_region(region) != 1:
        raise DialPlanConfigError(
            f"default_country: {region!r} is not a NANP (+1) region; "
            "this dial plan implements US/Canada dialling",
            field="default_country",
        )
