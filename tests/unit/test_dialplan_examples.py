"""The dial plan by named example: every URI form, the tricky numbers, parse errors, configs."""

from __future__ import annotations

import pytest

from dialplan import (
    CallClass,
    Dialed,
    DialPlanConfig,
    DialPlanParseError,
    Scheme,
    Target,
    classify,
    parse_target,
)

SOS = "urn:service:sos"
TEST_SOS = "urn:service:test.sos"


def emergency(dialed: str, prefix: str | None = None, urn: str = SOS) -> Dialed:
    return Dialed(CallClass.EMERGENCY, dialed, "911", urn, prefix, "")


def test_call(dialed: str, prefix: str | None = None, urn: str = TEST_SOS) -> Dialed:
    return Dialed(CallClass.EMERGENCY_TEST, dialed, "933", urn, prefix, "")


test_call.__test__ = False  # type: ignore[attr-defined]  # a builder, not a test


def normal(dialed: str, normalized: str | None = None, prefix: str | None = None) -> Dialed:
    return Dialed(CallClass.NORMAL, dialed, dialed if normalized is None else normalized, None,
                  prefix, "")


def invalid(dialed: str, reason: str) -> Dialed:
    return Dialed(CallClass.INVALID, dialed, "", None, None, reason)


EMERGENCY_EXAMPLES = [
    # 911 / 933 in every form, default access prefixes (any one digit).
    pytest.param("911", emergency("911"), id="plain-911"),
    pytest.param("933", test_call("933"), id="plain-933"),
    pytest.param(" 911\n", emergency("911"), id="plain-911-surrounding-whitespace"),
    pytest.param("9911", emergency("9911", "9"), id="prefix-9-911"),
    pytest.param("0911", emergency("0911", "0"), id="prefix-0-911"),
    pytest.param("1911", emergency("1911", "1"), id="prefix-1-911"),
    pytest.param("8933", test_call("8933", "8"), id="prefix-8-933"),
    pytest.param("9-1-1", emergency("911"), id="separators-dashes"),
    pytest.param("9 911", emergency("9911", "9"), id="separators-space-after-prefix"),
    pytest.param("(9) 9.1.1", emergency("9911", "9"), id="separators-mixed"),
    pytest.param("sip:911@pbx.example.com", emergency("911"), id="sip-911"),
    pytest.param("SIP:911@PBX.EXAMPLE.COM", emergency("911"), id="sip-upper-case-scheme"),
    pytest.param("sips:911@pbx.example.com", emergency("911"), id="sips-911"),
    pytest.param("sip:933@pbx.example.com", test_call("933"), id="sip-933"),
    pytest.param("sip:9911@10.0.0.1:5060", emergency("9911", "9"), id="sip-9911-ip-port"),
    pytest.param("sip:911@[2001:db8::1]:5061;transport=tls", emergency("911"), id="sip-ipv6"),
    pytest.param("sip:911@pbx;user=phone", emergency("911"), id="sip-user-phone"),
    pytest.param("sip:9911@pbx;user=dialstring", emergency("9911", "9"), id="sip-user-dialstring"),
    pytest.param("sip:911;phone-context=+1@pbx;user=phone", emergency("911"),
                 id="sip-telephone-subscriber-phone-context"),
    pytest.param("sip:9-911@pbx;user=phone", emergency("9911", "9"), id="sip-separators"),
    pytest.param("sip:(9)911@pbx", emergency("9911", "9"), id="sip-parentheses"),
    pytest.param("sip:%39%31%31@pbx", emergency("911"), id="sip-percent-escaped-digits"),
    pytest.param("sip:9%20911@pbx", emergency("9911", "9"), id="sip-escaped-space"),
    pytest.param("sip:911:secret@pbx", emergency("911"), id="sip-with-password"),
    pytest.param("sip:911@pbx?Priority=emergency&Subject=help", emergency("911"),
                 id="sip-with-headers"),
    pytest.param("sip:911", emergency("911"), id="sip-911-without-host"),
    pytest.param("sip:9-911;user=phone", emergency("9911", "9"), id="sip-9911-without-host"),
    pytest.param("<sip:911@pbx>", emergency("911"), id="name-addr-bare"),
    pytest.param('"Front Desk" <sip:9911@pbx;user=phone>;tag=a1b2', emergency("9911", "9"),
                 id="name-addr-display-name-and-tag"),
    pytest.param('"a \\"<quoted>\\" name" <sip:911@pbx>', emergency("911"),
                 id="name-addr-display-name-with-escaped-quotes"),
    pytest.param("Front Desk <tel:911>", emergency("911"), id="name-addr-token-display-name"),
    pytest.param("tel:911", emergency("911"), id="tel-911-no-context"),
    pytest.param("tel:911;phone-context=+1", emergency("911"), id="tel-911-context-plus-1"),
    pytest.param("tel:911;phone-context=example.com", emergency("911"),
                 id="tel-911-context-domain"),
    pytest.param("TEL:9-911;PHONE-CONTEXT=+1", emergency("9911", "9"), id="tel-upper-case"),
    pytest.param("tel:933;phone-context=+1", test_call("933"), id="tel-933-context"),
    pytest.param("tel:911;phone-context=+44", emergency("911"),
                 id="tel-911-foreign-context-still-emergency"),
    # Our decision: +1911 / +1933 can only be 911/933 rewritten to E.164 by a phone.
    pytest.param("+1911", emergency("+1911"), id="e164-plus-1-911"),
    pytest.param("sip:+1911@pbx;user=phone", emergency("+1911"), id="sip-plus-1-911"),
    pytest.param("tel:+1-911", emergency("+1911"), id="tel-plus-1-911"),
    pytest.param("tel:+1-933", test_call("+1933"), id="tel-plus-1-933"),
    # RFC 5031 service URNs, case-insensitive, any sos sub-service.
    pytest.param("urn:service:sos", emergency("urn:service:sos"), id="urn-sos"),
    pytest.param("URN:Service:SOS", emergency("urn:service:sos"), id="urn-sos-upper-case"),
    pytest.param("urn:service:sos.fire",
                 emergency("urn:service:sos.fire", urn="urn:service:sos.fire"), id="urn-sos-fire"),
    pytest.param("urn:service:sos.ecall.manual",
                 emergency("urn:service:sos.ecall.manual", urn="urn:service:sos.ecall.manual"),
                 id="urn-sos-two-level-sub-service"),
    pytest.param("urn:service:sos.unknown-thing",
                 emergency("urn:service:sos.unknown-thing", urn="urn:service:sos.unknown-thing"),
                 id="urn-sos-unregistered-sub-service"),
    pytest.param("urn:service:sos..fire", emergency("urn:service:sos"),
                 id="urn-sos-malformed-sub-service-still-emergency"),
    pytest.param("<urn:service:sos.police>",
                 emergency("urn:service:sos.police", urn="urn:service:sos.police"),
                 id="urn-sos-in-name-addr"),
    pytest.param("urn:service:test.sos", test_call("urn:service:test.sos"), id="urn-test-sos"),
    pytest.param("urn:service:test.sos.fire",
                 test_call("urn:service:test.sos.fire", urn="urn:service:test.sos.fire"),
                 id="urn-test-sos-fire"),
]


NOT_EMERGENCY_EXAMPLES = [
    # Longer numbers that start with or contain 911 are never emergency.
    pytest.param("9115551234", invalid("9115551234", "invalid_number"),
                 id="ten-digits-starting-911-is-no-nanp-number"),
    pytest.param("19115551234", invalid("19115551234", "invalid_number"),
                 id="one-plus-911-area-code"),
    pytest.param("+19115551234", invalid("+19115551234", "invalid_number"),
                 id="e164-911-area-code"),
    pytest.param("sip:+19115551234@pbx;user=phone", invalid("+19115551234", "invalid_number"),
                 id="sip-e164-911-area-code"),
    pytest.param("91100", normal("91100"), id="five-digit-extension-starting-911"),
    pytest.param("91123", normal("91123"), id="five-digit-extension-91123"),
    pytest.param("99911", normal("99911"), id="two-digit-prefix-99-then-911"),
    pytest.param("99933", normal("99933"), id="two-digit-prefix-99-then-933"),
    pytest.param("9911x", invalid("9911x", "not_a_number"), id="9911-with-letter"),
    pytest.param("4065559110", normal("4065559110", "+14065559110"), id="nanp-ending-9110"),
    pytest.param("+911", invalid("+911", "invalid_number"), id="plus-911-is-india-not-911"),
    pytest.param("+44911", invalid("+44911", "invalid_number"), id="plus-44-911"),
    pytest.param("tel:+1-911-555-1234", invalid("+19115551234", "invalid_number"),
                 id="tel-e164-911-area-code"),
    pytest.param("911911", normal("911911"), id="911-twice-is-an-extension"),
    pytest.param("urn:service:sosa", invalid("urn:service:sosa", "unsupported_service"),
                 id="urn-sosa-is-not-sos"),
    pytest.param("urn:service:counseling", invalid("urn:service:counseling", "unsupported_service"),
                 id="urn-counseling-is-not-emergency"),
    pytest.param("urn:service:counseling.suicide",
                 invalid("urn:service:counseling.suicide", "unsupported_service"),
                 id="urn-counseling-suicide"),
    pytest.param("urn:service:test.counseling",
                 invalid("urn:service:test.counseling", "unsupported_service"),
                 id="urn-test-of-non-sos-service"),
    # N11 codes other than 911, and 988, are normal service codes kept as dialled.
    pytest.param("211", normal("211"), id="n11-211"),
    pytest.param("311", normal("311"), id="n11-311"),
    pytest.param("411", normal("411"), id="n11-411"),
    pytest.param("511", normal("511"), id="n11-511"),
    pytest.param("611", normal("611"), id="n11-611"),
    pytest.param("711", normal("711"), id="n11-711"),
    pytest.param("811", normal("811"), id="n11-811"),
    pytest.param("988", normal("988"), id="crisis-line-988"),
    pytest.param("sip:411@pbx", normal("411"), id="sip-n11-411"),
]


NORMAL_EXAMPLES = [
    pytest.param("4065551234", normal("4065551234", "+14065551234"), id="nanp-ten-digits"),
    pytest.param("(406) 555-1234", normal("4065551234", "+14065551234"), id="nanp-formatted"),
    pytest.param("14065551234", normal("14065551234", "+14065551234"), id="nanp-one-plus-ten"),
    pytest.param("1-406-555-1234", normal("14065551234", "+14065551234"),
                 id="nanp-one-plus-ten-dashes"),
    pytest.param("94065551234", normal("94065551234", "+14065551234", "9"),
                 id="prefix-9-plus-ten-digits"),
    pytest.param("914065551234", normal("914065551234", "+14065551234", "9"),
                 id="prefix-9-plus-one-plus-ten-digits"),
    pytest.param("9-1-406-555-1234", normal("914065551234", "+14065551234", "9"),
                 id="prefix-9-plus-one-plus-ten-digits-dashes"),
    pytest.param("+14065551234", normal("+14065551234"), id="e164-nanp"),
    pytest.param("+1 (416) 555-0199", normal("+14165550199"), id="e164-canada-formatted"),
    pytest.param("sip:+14065551234@pbx;user=phone", normal("+14065551234"), id="sip-e164"),
    pytest.param("sips:+1.406.555.1234@pbx", normal("+14065551234"), id="sips-e164-dots"),
    pytest.param("sip:4065551234@pbx", normal("4065551234", "+14065551234"), id="sip-ten-digits"),
    pytest.param("sip:94065551234@pbx", normal("94065551234", "+14065551234", "9"),
                 id="sip-prefix-ten-digits"),
    pytest.param("tel:+1-406-555-1234", normal("+14065551234"), id="tel-global"),
    pytest.param("tel:406-555-1234;phone-context=+1", normal("4065551234", "+14065551234"),
                 id="tel-local-context-plus-1"),
    pytest.param("tel:555-1234;phone-context=+1-406", normal("5551234", "+14065551234"),
                 id="tel-seven-digits-in-area-code-context"),
    pytest.param("tel:20-7123-4567;phone-context=+44", normal("2071234567", "+442071234567"),
                 id="tel-local-in-uk-context"),
    pytest.param("+44 20 7123 4567", normal("+442071234567"), id="international-e164"),
    pytest.param("011 44 20 7123 4567", normal("011442071234567", "+442071234567"),
                 id="international-011"),
    pytest.param("9011442071234567", normal("9011442071234567", "+442071234567", "9"),
                 id="international-prefix-9-011"),
    pytest.param("1234", normal("1234"), id="extension-four-digits"),
    pytest.param("sip:1234@pbx", normal("1234"), id="sip-extension"),
    pytest.param("12", normal("12"), id="extension-two-digits"),
    pytest.param("123456", normal("123456"), id="extension-six-digits"),
    pytest.param("9123", normal("9123"), id="extension-starting-with-prefix-digit"),
]


INVALID_EXAMPLES = [
    pytest.param("abc", invalid("abc", "not_a_number"), id="letters"),
    pytest.param("sip:alice@example.com", invalid("alice", "not_a_number"), id="sip-named-user"),
    pytest.param("sip:*67911@pbx", invalid("*67911", "not_a_number"), id="feature-code"),
    pytest.param("sip:911#@pbx", invalid("911#", "not_a_number"), id="hash"),
    pytest.param("\uff19\uff11\uff11", invalid("\uff19\uff11\uff11", "not_a_number"),
                 id="fullwidth-digits-are-not-ascii-digits"),
    pytest.param("sip:example.com", invalid("", "no_user_part"), id="sip-without-user"),
    pytest.param("sip:10.0.0.1", invalid("", "no_user_part"), id="sip-ipv4-host-only"),
    pytest.param("1", invalid("1", "too_short"), id="one-digit"),
    pytest.param("5551234", invalid("5551234", "invalid_number"), id="seven-digits-no-area-code"),
    pytest.param("1234567890123456789012", invalid("1234567890123456789012", "too_long"),
                 id="too-long"),
    pytest.param("+1234567890123456", invalid("+1234567890123456", "too_long"),
                 id="e164-over-15-digits"),
    pytest.param("+15555551234", invalid("+15555551234", "invalid_number"), id="nanp-area-555"),
    pytest.param("0123456789", invalid("0123456789", "invalid_number"), id="ten-digits-bad-npa"),
]


@pytest.mark.parametrize(("target", "expected"), EMERGENCY_EXAMPLES)
def test_classify_recognises_emergency_and_test_examples(target: str, expected: Dialed) -> None:
    """911/933/X911/X933/+1911/sos URNs classify exactly as in the table, in every form."""
    assert classify(target) == expected


@pytest.mark.parametrize(("target", "expected"), NOT_EMERGENCY_EXAMPLES)
def test_classify_rejects_near_miss_examples(target: str, expected: Dialed) -> None:
    """Numbers that merely contain or start with 911/933 are never emergency."""
    assert classify(target) == expected


@pytest.mark.parametrize(("target", "expected"), NORMAL_EXAMPLES)
def test_classify_normalises_normal_examples(target: str, expected: Dialed) -> None:
    """NANP and international numbers become E.164; extensions stay as dialled."""
    assert classify(target) == expected


@pytest.mark.parametrize(("target", "expected"), INVALID_EXAMPLES)
def test_classify_marks_undialable_examples_invalid(target: str, expected: Dialed) -> None:
    """Readable but undialable targets are invalid with a short reason."""
    assert classify(target) == expected


NINE_ONLY = DialPlanConfig(access_prefixes=("9",))
NO_PREFIX = DialPlanConfig(access_prefixes=())
EUROPE = DialPlanConfig(extra_emergency_numbers=("112", "999"))
SHORT_EXTENSIONS = DialPlanConfig(extension_min_digits=3, extension_max_digits=4)
SEVEN_DIGIT_EXTENSIONS = DialPlanConfig(extension_min_digits=3, extension_max_digits=7)

CONFIG_EXAMPLES = [
    pytest.param(NINE_ONLY, "9911", emergency("9911", "9"), id="prefix-9-only-9911"),
    pytest.param(NINE_ONLY, "911", emergency("911"), id="prefix-9-only-911"),
    pytest.param(NINE_ONLY, "8911", normal("8911"), id="prefix-9-only-8911-is-extension"),
    pytest.param(NINE_ONLY, "1911", normal("1911"), id="prefix-9-only-1911-is-extension"),
    pytest.param(NINE_ONLY, "84065551234", invalid("84065551234", "invalid_number"),
                 id="prefix-9-only-8-plus-nanp"),
    pytest.param(DialPlanConfig(access_prefixes=("8",)), "9911", normal("9911"),
                 id="prefix-8-only-9911-is-extension"),
    pytest.param(NO_PREFIX, "9911", normal("9911"), id="no-prefix-9911-is-extension"),
    pytest.param(NO_PREFIX, "911", emergency("911"), id="no-prefix-911"),
    pytest.param(NO_PREFIX, "tel:933", test_call("933"), id="no-prefix-933"),
    pytest.param(EUROPE, "112", emergency("112"), id="extra-112"),
    pytest.param(EUROPE, "sip:999@pbx;user=phone", emergency("999"), id="extra-999-sip"),
    pytest.param(EUROPE, "tel:1-1-2;phone-context=+1", emergency("112"), id="extra-112-tel"),
    pytest.param(EUROPE, "9112", normal("9112"), id="extra-with-prefix-is-not-extra"),
    pytest.param(EUROPE, "1120", normal("1120"), id="extra-is-matched-whole"),
    pytest.param(DialPlanConfig(), "112", normal("112"), id="112-without-extra-is-extension"),
    pytest.param(SHORT_EXTENSIONS, "91100", invalid("91100", "invalid_number"),
                 id="five-digits-outside-extension-range"),
    pytest.param(SHORT_EXTENSIONS, "12", invalid("12", "too_short"), id="below-extension-range"),
    pytest.param(SHORT_EXTENSIONS, "911", emergency("911"), id="911-inside-extension-range"),
    pytest.param(SEVEN_DIGIT_EXTENSIONS, "5551234", normal("5551234"), id="seven-digit-extension"),
    pytest.param(DialPlanConfig(extension_min_digits=1, extension_max_digits=9), "9115551",
                 normal("9115551"), id="seven-digits-starting-911-extension"),
    pytest.param(DialPlanConfig(default_country="CA"), "4165550199",
                 normal("4165550199", "+14165550199"), id="canada-default-country"),
]


@pytest.mark.parametrize(("config", "target", "expected"), CONFIG_EXAMPLES)
def test_classify_follows_the_configuration(
    config: DialPlanConfig, target: str, expected: Dialed
) -> None:
    """Access prefixes, extra numbers and extension lengths change exactly what they say."""
    assert classify(target, config) == expected


PARSE_ERRORS = [
    pytest.param("", "empty target", 400, id="empty"),
    pytest.param("   ", "empty target", 400, id="blank"),
    pytest.param("9\x00911", "control character in target", 400, id="control-character"),
    pytest.param("mailto:911@example.com", "unsupported URI scheme 'mailto'", 416, id="mailto"),
    pytest.param("http://911", "unsupported URI scheme 'http'", 416, id="http"),
    pytest.param("urn:nena:service:sos",
                 "unsupported URN namespace 'nena' (only urn:service: is dialable)", 416,
                 id="urn-other-namespace"),
    pytest.param("urn:service:", "urn:service: names no service", 400, id="urn-no-service"),
    pytest.param("urn:service:coun$eling", "malformed service URN", 400, id="urn-bad-label"),
    pytest.param("sip:", "sip URI has no user and no host", 400, id="sip-empty"),
    pytest.param("sip:911@", "sip URI has no host after '@'", 400, id="sip-no-host"),
    pytest.param("sips:@pbx", "sips URI has an empty user part", 400, id="sips-empty-user"),
    pytest.param("sip:911@pb x", "malformed host in sip URI", 400, id="sip-space-in-host"),
    pytest.param("sip:9%1@pbx", "malformed %-escape in sip user part", 400, id="sip-bad-escape"),
    pytest.param("sip:%ff@pbx", "%-escapes in sip user part are not UTF-8", 400,
                 id="sip-escape-not-utf8"),
    pytest.param("sip:911@pbx;=x", "parameter without a name in sip URI parameters", 400,
                 id="sip-nameless-param"),
    pytest.param("tel:", "tel URI has no number", 400, id="tel-empty"),
    pytest.param("tel:;phone-context=+1", "tel URI has no number", 400, id="tel-only-params"),
    pytest.param("<sip:911@pbx", "'<' without a matching '>'", 400, id="name-addr-unclosed"),
    pytest.param("sip:911@pbx>", "'>' without a matching '<'", 400, id="name-addr-stray-close"),
    pytest.param("<>", "nothing between '<' and '>'", 400, id="name-addr-empty"),
    pytest.param("<sip:911@pbx> junk", "unexpected text after '>'", 400, id="name-addr-trailer"),
    pytest.param('"Front Desk <sip:911@pbx>', "unterminated quoted display name", 400,
                 id="name-addr-unterminated-quote"),
    pytest.param('"Front Desk" sip:911@pbx <x>', "expected '<' after the quoted display name", 400,
                 id="name-addr-quote-then-no-angle"),
]


@pytest.mark.parametrize(("target", "message", "sip_status"), PARSE_ERRORS)
def test_classify_refuses_unreadable_targets_with_one_line(
    target: str, message: str, sip_status: int
) -> None:
    """Unreadable input raises DialPlanParseError with an exact one-line message and status."""
    with pytest.raises(DialPlanParseError) as info:
        classify(target)
    assert str(info.value) == message
    assert info.value.sip_status == sip_status


PARSED_TARGETS = [
    pytest.param("sip:9-911;phone-context=+1-406@PBX.example.com:5060;user=Phone?X=y",
                 Target(Scheme.SIP, "9911", "pbx.example.com:5060", "+1406", "phone"),
                 id="sip-everything"),
    pytest.param("sips:alice@example.com", Target(Scheme.SIPS, "alice", "example.com"),
                 id="sips-named-user"),
    pytest.param("sip:example.com;user=phone", Target(Scheme.SIP, None, "example.com", None,
                                                      "phone"), id="sip-host-only"),
    pytest.param("tel:911;phone-context=Example.COM", Target(Scheme.TEL, "911", None,
                                                             "example.com"), id="tel-domain"),
    pytest.param("tel:+1-406-555-1234;ext=12", Target(Scheme.TEL, "+14065551234"),
                 id="tel-global-with-ext"),
    pytest.param("urn:service:SOS.Police", Target(Scheme.URN, None, service="sos.police"),
                 id="urn"),
    pytest.param("urn:service:sos%2Efire", Target(Scheme.URN, None, service="sos"),
                 id="urn-sos-malformed-tail-falls-back-to-sos"),
    pytest.param("(406) 555-1234", Target(Scheme.DIAL_STRING, "4065551234"), id="dial-string"),
    pytest.param("Front Desk", Target(Scheme.DIAL_STRING, "Front Desk"), id="dial-string-words"),
]


@pytest.mark.parametrize(("text", "expected"), PARSED_TARGETS)
def test_parse_target_extracts_every_part(text: str, expected: Target) -> None:
    """parse_target returns the dialled user/number, host, context and service exactly."""
    assert parse_target(text) == expected


def test_dialed_marks_emergency_and_test_as_never_blocked() -> None:
    """is_emergency_or_test is true for 911 and 933 calls and false otherwise."""
    assert [classify(t).is_emergency_or_test for t in ("911", "933", "411", "abc")] == [
        True, True, False, False
    ]
