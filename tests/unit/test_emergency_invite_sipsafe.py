"""router.sipsafe: header values that user input can never break out of."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.sipsafe import (
    DISPLAY_NAME_MAX_LENGTH,
    UnsafeHeaderValue,
    display_name,
    header_value,
    host,
    hostport,
    is_token,
    quoted_string,
    sip_uri_user,
    token,
)


@pytest.mark.parametrize(("value", "name"), [
    ("Bob\r\nVia: evil", "CR"), ("Bob\nVia: evil", "LF"), ("Bob\x00", "NUL"),
    ("bell\x07", "U+0007"), ("del\x7f", "U+007F"),
])
def test_header_value_refuses_control_characters(value: str, name: str) -> None:
    """CR, LF, NUL and other controls raise, naming the character."""
    with pytest.raises(UnsafeHeaderValue, match=re.escape(f"control character {name} in")):
        header_value(value)


def test_header_value_accepts_tab_and_utf8() -> None:
    """HTAB (LWS) and non-ASCII text are legal header content."""
    assert header_value("a\tb Montée") == "a\tb Montée"


@pytest.mark.parametrize(("text", "quoted"), [
    ("Front Desk", '"Front Desk"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ('\\"', '"\\\\\\""'),
    ("", '""'),
])
def test_quoted_string_escapes_quote_and_backslash(text: str, quoted: str) -> None:
    """RFC 3261 s25.1: " and \\ become quoted-pairs."""
    assert quoted_string(text) == quoted


def test_quoted_string_refuses_line_breaks() -> None:
    """CR/LF cannot be quoted: they raise instead of ending the header."""
    with pytest.raises(UnsafeHeaderValue, match="CR"):
        quoted_string("Bob\r\nVia: evil")


@given(st.text(max_size=60))
def test_quoted_string_output_never_ends_early(text: str) -> None:
    """Every unescaped quote in the output is the closing one, whatever the input."""
    try:
        quoted = quoted_string(text)
    except UnsafeHeaderValue:
        return
    inner, index = quoted[1:-1], 0
    while index < len(inner):
        assert inner[index] != '"'
        index += 2 if inner[index] == "\\" else 1
    assert quoted.endswith('"') and index == len(inner)


@pytest.mark.parametrize(("typed", "clean"), [
    ("Bob\r\nVia: evil", "Bob Via evil"),
    ('"Eve" <sip:x@y>', "Eve sip x y"),
    ("back\\slash", "back slash"),
    ("<script>alert('x')</script>", "script alert x script"),
    ("Zoë Ångström", "Zoe Angstrom"),
    ("Straße 5", "Strasse 5"),
    ("  many   spaces\t", "many spaces"),
    ("Ørsted Æsir Łódź", "Orsted AEsir Lodz"),
    ("東京", ""),
    ("", ""),
])
def test_display_name_keeps_only_letters_digits_and_spaces(typed: str, clean: str) -> None:
    """Seed rule: letters and numbers only (spaces between words), ASCII."""
    assert display_name(typed) == clean


def test_long_display_names_are_cut_at_a_word_boundary() -> None:
    """Longer than 32: cut at the last space in the second half, else hard."""
    assert DISPLAY_NAME_MAX_LENGTH == 32
    assert display_name("Emergency Operations Center Building North") == (
        "Emergency Operations Center")
    assert display_name("A" * 40) == "A" * 32
    assert display_name("Short Averyveryveryveryverylongword", max_length=20) == (
        "Short Averyveryveryv")


@given(st.text(max_size=80))
def test_display_name_is_always_safe_and_bounded(text: str) -> None:
    """Any input gives ASCII letters/digits/single spaces, at most 32 characters."""
    name = display_name(text)
    assert len(name) <= DISPLAY_NAME_MAX_LENGTH
    assert all(c.isascii() and (c.isalnum() or c == " ") for c in name)
    assert "  " not in name and name == name.strip()


@pytest.mark.parametrize(("text", "ok"), [
    ("emergency", True), ("z9hG4bK-74bf9a1c", True), ("a.b!c%d*e_f+g`h'i~j", True),
    ("", False), ("two words", False), ("semi;colon", False), ('"q"', False),
    ("a\r\nb", False),
])
def test_token_check_follows_rfc3261(text: str, ok: bool) -> None:
    """token = 1*(alphanum / - . ! % * _ + ` ' ~)."""
    assert is_token(text) is ok
    if ok:
        assert token(text) == text
    else:
        with pytest.raises(UnsafeHeaderValue):
            token(text)


@pytest.mark.parametrize(("number", "user"), [
    ("+12025550123", "+12025550123"), ("(202) 555-0123", "2025550123"),
    ("202.555.0123", "2025550123"), ("911", "911"),
])
def test_sip_uri_user_strips_visual_separators(number: str, user: str) -> None:
    """RFC 3966 visual separators go; digits and a leading + stay."""
    assert sip_uri_user(number) == user


@pytest.mark.parametrize("number", [
    "", "+", "12a4", "++1202", "2025550123@evil", "2025550123;user=phone", "1" * 21,
    "202\r\n555", "*67 202 555 0123",
])
def test_sip_uri_user_refuses_anything_but_a_number(number: str) -> None:
    """Letters, @, ;, CR/LF, stars or overlong strings raise ValueError."""
    with pytest.raises(ValueError):
        sip_uri_user(number)


@pytest.mark.parametrize("value", [
    "voip.example.net", "voip.example.net.", "localhost", "127.0.0.1", "[::1]",
    "[2001:db8::5]", "a-b.c-d.example",
])
def test_valid_hosts(value: str) -> None:
    """Hostnames, IPv4 and bracketed IPv6 are SIP hosts."""
    assert host(value) == value


@pytest.mark.parametrize("value", [
    "", "evil host", "a@b", "-bad.example", "x\r\nVia: y", "::1", "[::zz]", "300.1.1.1",
    "a..b", "host;transport=tcp", "1.2.3", "example.123",
])
def test_invalid_hosts(value: str) -> None:
    """Spaces, @, leading hyphen, CRLF, bare IPv6, bad IPv4 and params are refused."""
    with pytest.raises(UnsafeHeaderValue):
        host(value)


@pytest.mark.parametrize(("value", "ok"), [
    ("psap.example.org:5080", True), ("[::1]:5060", True), ("127.0.0.1", True),
    ("psap.example.org:", False), ("psap.example.org:0", False),
    ("psap.example.org:65536", False), ("psap.example.org:50a", False), ("[::1]:", False),
])
def test_hostport_checks_the_port(value: str, ok: bool) -> None:
    """Port is 1-65535 digits when present."""
    if ok:
        assert hostport(value) == value
    else:
        with pytest.raises(UnsafeHeaderValue):
            hostport(value)
