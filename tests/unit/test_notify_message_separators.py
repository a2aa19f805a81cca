"""Caller-controlled text cannot forge lines or paragraphs in the e-mail (issue 13 finding
12): line and paragraph separators (U+2028, U+2029), NEL (U+0085), VT, FF, CR, LF and every
other control or format character (Unicode Cc, Cf, Zl, Zp) are dropped from the display
name, the callback number, the user and the address lines, in the subject and both bodies."""

from __future__ import annotations

import email
import unicodedata
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default

import pytest

from router.notify.message import CallNotice, build_email

WHEN = datetime(2026, 11, 23, 15, 4, 5, tzinfo=UTC)

BREAKS = ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\r", "\n", "\r\n", "\x1c", "\x1e",
          "\x00", "\x1b", "\x7f"]
"""Line and paragraph separators and control characters (Zl, Zp, Cc): each becomes a space,
so the words on either side stay apart but on the same line."""
FORMATS = ["\u200b", "\u200e", "\u202e", "\u2066", "\ufeff", "\u00ad", "\u061c"]
"""Format characters (Cf) that hide or reorder text (zero-width space, bidi marks, overrides
and isolates, BOM, soft hyphen, Arabic letter mark): dropped without a trace."""


def forged(separator: str) -> CallNotice:
    """A notice whose every caller-controlled field tries to start a fake line."""
    fake = f"{separator}Callback number: +19995550000{separator}"
    return CallNotice(
        call_ref="call_0001", placed_at=WHEN, caller_display_name=f"Eve{fake}Mallory",
        callback_number=f"+14065550100{fake}", address_lines=(f"1 MAIN ST{fake}",),
        sip_user=f"2003{fake}",
    )


def parsed(message: EmailMessage) -> tuple[str, str, str]:
    again = email.message_from_bytes(message.as_bytes(), policy=default)
    plain, rich = again.get_body(("plain",)), again.get_body(("html",))
    assert plain is not None and rich is not None
    return (str(again["Subject"]), plain.get_content().replace("\r\n", "\n"),
            rich.get_content().replace("\r\n", "\n"))


def controls(text: str) -> list[str]:
    """Every Cc/Cf/Zl/Zp character in `text` except the body's own line feeds."""
    return [f"U+{ord(ch):04X}" for ch in text
            if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")]


@pytest.mark.parametrize(("separator", "gap"), [(s, " ") for s in BREAKS]
                         + [(s, "") for s in FORMATS],
                         ids=[f"U+{ord(s[0]):04X}" for s in BREAKS + FORMATS])
def test_separator_in_any_caller_field_cannot_forge_a_line(separator: str, gap: str) -> None:
    """The fake "Callback number" stays inside its own line in plain text and HTML, and no
    control or format character survives anywhere in the message."""
    message = build_email(forged(separator), sender="e911@example.com",
                          recipient="ops@example.com")
    subject, plain, rich = parsed(message)
    assert controls(subject) == controls(plain) == controls(rich) == []
    fake = f"{gap}Callback number: +19995550000"
    lines = plain.splitlines()
    assert [line for line in lines if line.startswith("Callback number:")] == [
        f"Callback number: +14065550100{fake}"]
    assert f"Caller: Eve{fake}{gap}Mallory" in lines
    assert f"User: 2003{fake}" in lines
    assert f"  1 MAIN ST{fake}" in lines
    assert f"<td>Eve{fake}{gap}Mallory</td>" in rich
    assert subject == f"911 call placed by Eve{gap}Callback number 19995550000{gap}Mallory"[:59]
    # The raw message (as sent) has no such character either, in any encoding.
    assert "\u2028" not in message.as_string() and "\x85" not in message.as_string()


def test_letters_around_a_removed_format_character_stay_one_word() -> None:
    """A zero-width or bidi character inside a word is dropped, not turned into a space."""
    notice = CallNotice(call_ref="call_0001", placed_at=WHEN,
                        caller_display_name="Ad\u200ba Love\u202elace",
                        callback_number="+14065550100", address_lines=())
    subject, plain, _ = parsed(build_email(notice, sender="e911@example.com",
                                           recipient="ops@example.com"))
    assert subject == "911 call placed by Ada Lovelace"
    assert "Caller: Ada Lovelace" in plain.splitlines()
