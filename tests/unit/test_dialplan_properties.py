"""Property tests: no false positives, no false negatives, in every URI wrapping and config.

The oracle here is deliberately independent of the classifier: a number is an emergency
exactly when it *is* 911, an access prefix + 911, an extra number (or +1911), and a test
call exactly when it is 933, an access prefix + 933 (or +1933). Anything else, however
close, must not be.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dialplan import (
    CallClass,
    DialPlanConfig,
    DialPlanConfigError,
    DialPlanParseError,
    classify,
    lint,
)

FAST = settings(max_examples=300, deadline=None)

DIGITS = "0123456789"
URI_SEPARATORS = "-.()"  # RFC 3966 §5.1.1 visual separators; a space needs %20 in a URI
TYPED_SEPARATORS = "-.() "
HOSTS = ("pbx.example.com", "10.0.0.1", "10.0.0.1:5080", "[2001:db8::1]", "[::1]:5061", "PBX")
URI_PARAMS = ("", ";user=phone", ";user=dialstring", ";transport=tcp", ";lr;user=phone")
HEADERS = ("", "?Priority=emergency", "?Subject=help&X-Id=1", "?P-Asserted-Identity=%3Csip:1%3E")

Expected = tuple[CallClass, str]


@st.composite
def safe_configs(draw: st.DrawFn) -> DialPlanConfig:
    """Any well-formed configuration whose extras do not claim the 933 test number."""
    prefixes = tuple(draw(st.lists(st.sampled_from(DIGITS), unique=True, max_size=10)))
    test_numbers = {"933"} | {p + "933" for p in prefixes}
    extras = draw(
        st.lists(
            st.text(DIGITS, min_size=2, max_size=6).filter(lambda e: e not in test_numbers),
            unique=True,
            max_size=3,
        )
    )
    low = draw(st.integers(1, 9))
    high = draw(st.integers(low, 9))
    return DialPlanConfig(prefixes, tuple(extras), low, high)


def required(config: DialPlanConfig) -> dict[str, Expected]:
    """Every string that must be emergency or test under config, with (class, normalized)."""
    must: dict[str, Expected] = {e: (CallClass.EMERGENCY, "911") for e in
                                 config.extra_emergency_numbers}
    for prefix in ("", "+1", *config.access_prefixes):
        must[prefix + "911"] = (CallClass.EMERGENCY, "911")
        must[prefix + "933"] = (CallClass.EMERGENCY_TEST, "933")
    return must


@st.composite
def separated(draw: st.DrawFn, number: str, separators: str) -> str:
    """number with random visual separators between (and around) its digits."""
    sep = st.text(separators, max_size=2)
    sign, digits = ("+", number[1:]) if number.startswith("+") else ("", number)
    return sign + "".join(draw(sep) + d for d in digits) + draw(sep)


@st.composite
def escaped(draw: st.DrawFn, text: str) -> str:
    """text with some characters written as RFC 3986 %-escapes (upper or lower hex)."""
    out = []
    for ch in text:
        if ch != " " and not draw(st.booleans()):
            out.append(ch)
        else:
            out.append(draw(st.sampled_from(["%{:02X}", "%{:02x}"])).format(ord(ch)))
    return "".join(out)


def _scheme(draw: st.DrawFn, name: str) -> str:
    return draw(st.sampled_from([name, name.upper(), name.capitalize()]))


@st.composite
def wrapped(draw: st.DrawFn, number: str) -> str:
    """number written as a user would type it or in any Request-URI / name-addr form."""
    form = draw(st.sampled_from(["typed", "sip", "sip-subscriber", "sip-hostless", "tel",
                                 "tel-context"]))
    if form == "typed":
        return draw(separated(number, TYPED_SEPARATORS))
    user = draw(separated(number, URI_SEPARATORS))
    if form == "sip-hostless":
        uri = f"{_scheme(draw, 'sip')}:{user}{draw(st.sampled_from(URI_PARAMS))}"
    elif form in ("sip", "sip-subscriber"):
        scheme = _scheme(draw, draw(st.sampled_from(["sip", "sips"])))
        user = draw(escaped(user))
        if form == "sip-subscriber":
            user += draw(st.sampled_from([";phone-context=+1", ";phone-context=+1-406",
                                          ";phone-context=pbx.example.com;isub=12"]))
        password = draw(st.sampled_from(["", ":secret"]))
        uri = (f"{scheme}:{user}{password}@{draw(st.sampled_from(HOSTS))}"
               f"{draw(st.sampled_from(URI_PARAMS))}{draw(st.sampled_from(HEADERS))}")
    else:
        context = ""
        if form == "tel-context":
            context = draw(st.sampled_from([";phone-context=+1", ";phone-context=example.com",
                                            ";PHONE-CONTEXT=+1-406", ";ext=7;phone-context=+1"]))
        uri = f"{_scheme(draw, 'tel')}:{draw(escaped(user))}{context}"
    wrapper: Callable[[str], str] = draw(st.sampled_from([
        lambda u: u,
        lambda u: f"<{u}>",
        lambda u: f'"Front Desk" <{u}>;tag=8a7b',
        lambda u: f"Front Desk <{u}>",
    ]))
    return wrapper(uri)


# Digit strings that sit close to the emergency numbers: pieces of 911/933/prefixes glued.
near_misses = st.one_of(
    st.text(DIGITS, min_size=1, max_size=16),
    st.lists(
        st.sampled_from(["9", "1", "0", "8", "911", "933", "91", "11", "112", "99", "+1"])
        | st.text(DIGITS, min_size=1, max_size=3),
        min_size=1,
        max_size=5,
    ).map("".join).filter(lambda s: "+" not in s[1:]),
    st.text(DIGITS, min_size=1, max_size=15).map(lambda s: "+" + s),
)


@FAST
@given(config=safe_configs(), digits=near_misses, data=st.data())
def test_no_false_positive_in_any_form(
    config: DialPlanConfig, digits: str, data: st.DataObject
) -> None:
    """A digit string that is not exactly 911/933/X911/X933/extra never classifies emergency."""
    assume(digits not in required(config))
    target = data.draw(wrapped(digits), label="target")
    assert classify(target, config).call_class not in (
        CallClass.EMERGENCY,
        CallClass.EMERGENCY_TEST,
    )


@FAST
@given(config=safe_configs(), data=st.data())
def test_no_false_negative_in_any_form(config: DialPlanConfig, data: st.DataObject) -> None:
    """911/933 with any access prefix, or an extra number, in any wrapping, always classify."""
    number, expected = data.draw(st.sampled_from(sorted(required(config).items())), label="number")
    target = data.draw(wrapped(number), label="target")
    dialed = classify(target, config)
    assert (dialed.call_class, dialed.normalized, dialed.dialed) == (*expected, number)


@FAST
@given(config=safe_configs(), digits=near_misses, data=st.data())
def test_dialed_is_the_number_without_separators_in_any_form(
    config: DialPlanConfig, digits: str, data: st.DataObject
) -> None:
    """Whatever the wrapping, escapes and separators, `dialed` is the bare number."""
    assert classify(data.draw(wrapped(digits), label="target"), config).dialed == digits


@FAST
@given(config=safe_configs())
def test_lint_accepts_every_safe_configuration(config: DialPlanConfig) -> None:
    """One-digit prefixes and extras that avoid 933/X933 always pass the safety lint."""
    lint(config)


@FAST
@given(config=safe_configs(), data=st.data())
def test_lint_refuses_an_extra_number_that_is_a_test_number(
    config: DialPlanConfig, data: st.DataObject
) -> None:
    """An extra emergency number equal to 933 or X933 is refused with the exact message."""
    bad = data.draw(st.sampled_from(["933", *(p + "933" for p in config.access_prefixes)]))
    unsafe = DialPlanConfig(
        config.access_prefixes,
        (bad, *config.extra_emergency_numbers),
        config.extension_min_digits,
        config.extension_max_digits,
    )
    try:
        lint(unsafe)
    except DialPlanConfigError as exc:
        assert str(exc) == (
            f"extra_emergency_numbers: {bad!r} (extra emergency number) classifies as "
            "emergency_test (933), not emergency (911); 933 and X933 are the test number "
            "and cannot be mapped to 911"
        )
        assert exc.field == "extra_emergency_numbers"
    else:
        raise AssertionError(f"lint accepted extra emergency number {bad!r}")


@FAST
@given(config=safe_configs(), prefix=st.text(DIGITS, min_size=2, max_size=3))
def test_lint_refuses_an_access_prefix_longer_than_one_digit(
    config: DialPlanConfig, prefix: str
) -> None:
    """A multi-digit access prefix is refused, naming the prefix and the X911 it breaks."""
    assume(prefix + "911" not in config.extra_emergency_numbers)
    unsafe = DialPlanConfig(
        (*config.access_prefixes, prefix),
        config.extra_emergency_numbers,
        config.extension_min_digits,
        config.extension_max_digits,
    )
    try:
        lint(unsafe)
    except DialPlanConfigError as exc:
        message = str(exc)
        assert message.startswith(
            f"access_prefixes: '{prefix}911' (access prefix '{prefix}' + 911) classifies as "
        )
        assert message.endswith(", not emergency (911); an access prefix must be exactly one digit")
        assert exc.field == "access_prefixes"
    else:
        raise AssertionError(f"lint accepted access prefix {prefix!r}")


printable_uri_text = st.text(
    st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from(["é", "\uff19", "\t"]),
    max_size=40,
)


@FAST
@given(
    text=st.one_of(
        st.text(max_size=40),
        st.tuples(
            st.sampled_from(["sip:", "sips:", "tel:", "urn:service:", "<sip:", '"a" <tel:', ""]),
            printable_uri_text,
        ).map("".join),
    )
)
def test_classify_only_ever_raises_a_one_line_parse_error(text: str) -> None:
    """Arbitrary input classifies or raises DialPlanParseError with a one-line message."""
    try:
        dialed = classify(text)
    except DialPlanParseError as exc:
        assert str(exc) and "\n" not in str(exc)
        assert exc.sip_status in (400, 416)
    else:
        assert isinstance(dialed.call_class, CallClass)
        assert (dialed.normalized == "") == (dialed.call_class is CallClass.INVALID)
