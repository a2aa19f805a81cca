"""Startup safety lint: refuse a configuration under which 911 or 933 would be missed.

It does not re-state the rules: it runs ``classify`` itself over every number that must be
an emergency (911, X911 for each access prefix, each extra number) or a test call (933,
X933), written in every form a Request-URI or a user can take, and refuses the
configuration at the first one that comes out differently. A change to the classifier that
broke 911 under some configuration is caught here too, not only a bad setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialplan.classify import EMERGENCY_NUMBER, TEST_NUMBER, CallClass, classify
from dialplan.config import DialPlanConfig
from dialplan.errors import DialPlanConfigError, DialPlanParseError

#: Every wrapping of a number {n} that must classify the same as the bare number
#: ({spaced} is the number with a separator between each digit: "9-1-1").
FORMS = (
    "{n}",
    "{spaced}",
    "sip:{n}@example.invalid",
    "sips:{n}@example.invalid",
    "sip:{n}@example.invalid;user=phone",
    "sip:{n};phone-context=+1@example.invalid;user=phone",
    "sip:{n}@example.invalid:5060;transport=udp?Priority=emergency",
    "tel:{n}",
    "tel:{n};phone-context=+1",
    "tel:{n};phone-context=example.invalid",
    "<sip:{n}@example.invalid>",
    '"Caller" <tel:{n}>;tag=lint',
)


@dataclass(frozen=True, slots=True)
class _MustClassify:
    number: str
    call_class: CallClass
    field: str | None
    origin: str
    hint: str = ""
    hint_if: CallClass | None = None
    """Give the hint only when the number came out as this class (None: any wrong class)."""


def lint(config: DialPlanConfig) -> None:
    """Raise ``DialPlanConfigError`` naming what is wrong if 911/933 would be missed."""
    for must in _must_classify(config):
        expected_normalized = (
            EMERGENCY_NUMBER if must.call_class is CallClass.EMERGENCY else TEST_NUMBER
        )
        for form in FORMS:
            text = form.format(n=must.number, spaced="-".join(must.number))
            where = f"{text!r} ({must.origin})"
            try:
                dialed = classify(text, config)
            except DialPlanParseError as exc:
                raise DialPlanConfigError(
                    f"{_label(must.field)}{where} cannot be parsed: {exc}", field=must.field
                ) from None
            if dialed.call_class is must.call_class and dialed.normalized == expected_normalized:
                continue
            wrong_class = dialed.call_class is not must.call_class
            hinted = must.hint_if is None or dialed.call_class is must.hint_if
            hint = must.hint if wrong_class and hinted else ""
            raise DialPlanConfigError(
                f"{_label(must.field)}{where} classifies as {dialed.call_class.value} "
                f"({dialed.normalized or dialed.reason!s}), not {must.call_class.value} "
                f"({expected_normalized}){hint}",
                field=must.field,
            )


def _must_classify(config: DialPlanConfig) -> list[_MustClassify]:
    musts = [
        _MustClassify(EMERGENCY_NUMBER, CallClass.EMERGENCY, None, EMERGENCY_NUMBER),
        _MustClassify(TEST_NUMBER, CallClass.EMERGENCY_TEST, None, TEST_NUMBER),
    ]
    for prefix in config.access_prefixes:
        hint = "" if len(prefix) == 1 else "; an access prefix must be exactly one digit"
        for number, call_class in (
            (EMERGENCY_NUMBER, CallClass.EMERGENCY),
            (TEST_NUMBER, CallClass.EMERGENCY_TEST),
        ):
            musts.append(
                _MustClassify(
                    prefix + number,
                    call_class,
                    "access_prefixes",
                    f"access prefix {prefix!r} + {number}",
                    hint,
                )
            )
    for number in config.extra_emergency_numbers:
        musts.append(
            _MustClassify(
                number,
                CallClass.EMERGENCY,
                "extra_emergency_numbers",
                "extra emergency number",
                "; 933 and X933 are the test number and cannot be mapped to 911",
                CallClass.EMERGENCY_TEST,
            )
        )
    return musts


def _label(field: str | None) -> str:
    return f"{field}: " if field else ""
