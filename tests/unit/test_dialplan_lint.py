"""Dial-plan configuration: malformed values refused at construction, unsafe ones by lint."""

from __future__ import annotations

import importlib

import pytest

from dialplan import CallClass, Dialed, DialPlanConfig, DialPlanConfigError, classify, lint
from dialplan.lint import FORMS

MALFORMED = [
    pytest.param({"access_prefixes": ("9a",)}, "access_prefixes",
                 "access_prefixes: '9a' is not a string of digits", id="prefix-not-digits"),
    pytest.param({"access_prefixes": ("",)}, "access_prefixes",
                 "access_prefixes: '' is not a string of digits", id="prefix-empty"),
    pytest.param({"access_prefixes": ("\u0669",)}, "access_prefixes",
                 "access_prefixes: '\u0669' is not a string of digits", id="prefix-arabic-digit"),
    pytest.param({"access_prefixes": "9"}, "access_prefixes",
                 "access_prefixes: expected a tuple of digit strings, got str",
                 id="prefix-bare-string"),
    pytest.param({"access_prefixes": ("9", "9")}, "access_prefixes",
                 "access_prefixes: '9' is listed twice", id="prefix-duplicate"),
    pytest.param({"extra_emergency_numbers": ("1",)}, "extra_emergency_numbers",
                 "extra_emergency_numbers: '1' must have 2 to 6 digits", id="extra-too-short"),
    pytest.param({"extra_emergency_numbers": ("4065551234",)}, "extra_emergency_numbers",
                 "extra_emergency_numbers: '4065551234' must have 2 to 6 digits",
                 id="extra-a-real-number"),
    pytest.param({"extra_emergency_numbers": ("11 2",)}, "extra_emergency_numbers",
                 "extra_emergency_numbers: '11 2' is not a string of digits", id="extra-space"),
    pytest.param({"extension_min_digits": 0}, "extension_min_digits",
                 "extension_min_digits: 0 is outside 1..9", id="extension-min-zero"),
    pytest.param({"extension_max_digits": 10}, "extension_max_digits",
                 "extension_max_digits: 10 is outside 1..9", id="extension-max-ten"),
    pytest.param({"extension_min_digits": 5, "extension_max_digits": 4}, "extension_min_digits",
                 "extension_min_digits: 5 is greater than extension_max_digits (4)",
                 id="extension-min-above-max"),
    pytest.param({"extension_max_digits": True}, "extension_max_digits",
                 "extension_max_digits: expected an integer, got True", id="extension-bool"),
    pytest.param({"default_country": "us"}, "default_country",
                 "default_country: 'us' is not a two-letter upper-case region code",
                 id="country-lower-case"),
    pytest.param({"default_country": "GB"}, "default_country",
                 "default_country: 'GB' is not a NANP (+1) region; this dial plan implements "
                 "US/Canada dialling", id="country-outside-nanp"),
]


@pytest.mark.parametrize(("fields", "field", "message"), MALFORMED)
def test_config_refuses_malformed_values_with_exact_message(
    fields: dict[str, object], field: str, message: str
) -> None:
    """A malformed field stops DialPlanConfig construction naming the field."""
    with pytest.raises(DialPlanConfigError) as info:
        DialPlanConfig(**fields)  # type: ignore[arg-type]
    assert (str(info.value), info.value.field) == (message, field)


def test_config_defaults_are_every_digit_and_two_to_six_digit_extensions() -> None:
    """The default configuration is the documented one."""
    config = DialPlanConfig()
    assert (
        config.access_prefixes,
        config.extra_emergency_numbers,
        config.extension_min_digits,
        config.extension_max_digits,
        config.default_country,
    ) == (("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), (), 2, 6, "US")


def test_config_turns_lists_into_tuples() -> None:
    """Lists are accepted and stored as tuples, so the config stays hashable and frozen."""
    config = DialPlanConfig(access_prefixes=["9"], extra_emergency_numbers=["112"])  # type: ignore[arg-type]
    assert (config.access_prefixes, config.extra_emergency_numbers) == (("9",), ("112",))
    assert hash(config) == hash(DialPlanConfig(("9",), ("112",)))


UNSAFE = [
    pytest.param(
        DialPlanConfig(extra_emergency_numbers=("933",)),
        "extra_emergency_numbers",
        "extra_emergency_numbers: '933' (extra emergency number) classifies as emergency_test "
        "(933), not emergency (911); 933 and X933 are the test number and cannot be mapped to "
        "911",
        id="extra-933",
    ),
    pytest.param(
        DialPlanConfig(access_prefixes=("9",), extra_emergency_numbers=("112", "9933")),
        "extra_emergency_numbers",
        "extra_emergency_numbers: '9933' (extra emergency number) classifies as emergency_test "
        "(933), not emergency (911); 933 and X933 are the test number and cannot be mapped to "
        "911",
        id="extra-prefix-933",
    ),
    pytest.param(
        DialPlanConfig(access_prefixes=("99",)),
        "access_prefixes",
        "access_prefixes: '99911' (access prefix '99' + 911) classifies as normal (99911), not "
        "emergency (911); an access prefix must be exactly one digit",
        id="two-digit-prefix-inside-extension-range",
    ),
    pytest.param(
        DialPlanConfig(access_prefixes=("9", "81"), extension_max_digits=4),
        "access_prefixes",
        "access_prefixes: '81911' (access prefix '81' + 911) classifies as invalid "
        "(invalid_number), not emergency (911); an access prefix must be exactly one digit",
        id="two-digit-prefix-outside-extension-range",
    ),
    pytest.param(
        DialPlanConfig(access_prefixes=("99",), extra_emergency_numbers=("99911",)),
        "access_prefixes",
        "access_prefixes: '99933' (access prefix '99' + 933) classifies as normal (99933), not "
        "emergency_test (933); an access prefix must be exactly one digit",
        id="two-digit-prefix-911-rescued-by-extra-but-933-not",
    ),
]


@pytest.mark.parametrize(("config", "field", "message"), UNSAFE)
def test_lint_refuses_unsafe_configuration_with_exact_message(
    config: DialPlanConfig, field: str, message: str
) -> None:
    """A config under which 911/933/X911/X933/an extra is missed is refused, naming why."""
    with pytest.raises(DialPlanConfigError) as info:
        lint(config)
    assert (str(info.value), info.value.field) == (message, field)


SAFE = [
    pytest.param(DialPlanConfig(), id="defaults"),
    pytest.param(DialPlanConfig(access_prefixes=()), id="no-prefixes"),
    pytest.param(DialPlanConfig(access_prefixes=("9",)), id="prefix-9"),
    pytest.param(DialPlanConfig(extra_emergency_numbers=("112", "999", "000", "911")),
                 id="extras-including-911-itself"),
    pytest.param(DialPlanConfig(extra_emergency_numbers=("93", "9911")), id="extras-93-and-9911"),
    pytest.param(DialPlanConfig(extension_min_digits=1, extension_max_digits=9), id="wide-ext"),
    pytest.param(DialPlanConfig(extension_min_digits=4, extension_max_digits=4), id="narrow-ext"),
    pytest.param(DialPlanConfig(default_country="CA"), id="canada"),
]


@pytest.mark.parametrize("config", SAFE)
def test_lint_accepts_safe_configuration(config: DialPlanConfig) -> None:
    """Configurations that keep 911 and 933 intact pass the lint."""
    lint(config)


@pytest.mark.parametrize("form", FORMS)
def test_lint_catches_a_classifier_that_misses_911_in_one_form(
    form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lint runs the classifier over every form: 911 missed in just this one is caught."""
    broken_target = form.format(n="911", spaced="9-1-1")

    def classify_missing_one_form(target: str, config: DialPlanConfig) -> Dialed:
        if target == broken_target:
            return Dialed(CallClass.NORMAL, "911", "911", None, None, "")
        return classify(target, config)

    # The module, not the function of the same name that dialplan/__init__.py exports.
    lint_module = importlib.import_module("dialplan.lint")
    monkeypatch.setattr(lint_module, "classify", classify_missing_one_form)
    with pytest.raises(DialPlanConfigError) as info:
        lint(DialPlanConfig())
    assert str(info.value) == (
        f"{broken_target!r} (911) classifies as normal (911), not emergency (911)"
    )
    assert info.value.field is None
