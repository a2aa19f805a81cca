"""The emergency-contact e-mail: content per language, test labelling, injection safety."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default

import pytest

from router.notify.message import CallNotice, build_email, render_text, subject_name

WHEN = datetime(2026, 11, 23, 15, 4, 5, tzinfo=UTC)
LINES = ("101 E MAIN ST STE 4", "WHITE SULPHUR SPRINGS MT 59645")


def _notice(**changes: object) -> CallNotice:
    base: dict[str, object] = {
        "call_ref": "call_0001", "placed_at": WHEN, "caller_display_name": "Ada Lovelace",
        "callback_number": "+14065551234", "address_lines": LINES,
    }
    base.update(changes)
    return CallNotice(**base)  # type: ignore[arg-type]


def _parts(message: EmailMessage) -> tuple[str, str]:
    parsed = email.message_from_bytes(message.as_bytes(), policy=default)
    plain = parsed.get_body(("plain",))
    rich = parsed.get_body(("html",))
    assert plain is not None and rich is not None
    # SMTP policy: CRLF line ends on the wire; compare text with plain newlines.
    return (plain.get_content().replace("\r\n", "\n"),
            rich.get_content().replace("\r\n", "\n"))


def test_english_message_carries_every_field_the_seeds_name() -> None:
    """Display name, callback number, address sent to the PSAP, time and call reference."""
    message = build_email(_notice(), sender="e911@example.com", recipient="ops@example.com")
    assert message["Subject"] == "911 call placed by Ada Lovelace"
    assert message["To"] == "ops@example.com"
    assert message["X-E911-Call-Ref"] == "call_0001"
    plain, rich = _parts(message)
    assert plain.splitlines()[:6] == [
        "Ada Lovelace dialed 911 at 2026-11-23 15:04:05 UTC.",
        "",
        "Caller: Ada Lovelace",
        "Callback number: +14065551234",
        "Time: 2026-11-23 15:04:05 UTC",
        "Call reference: call_0001",
    ]
    assert ("Emergency address sent to the 911 center:\n  101 E MAIN ST STE 4\n"
            "  WHITE SULPHUR SPRINGS MT 59645\n") in plain
    assert "<td>+14065551234</td>" in rich
    assert "101 E MAIN ST STE 4<br>WHITE SULPHUR SPRINGS MT 59645" in rich


@pytest.mark.parametrize(
    ("language", "subject", "no_address_start"),
    [
        ("es", "Llamada al 911 realizada por Ada Lovelace", "No hay ninguna dirección"),
        ("fr", "Appel au 911 passé par Ada Lovelace", "Aucune adresse d'urgence n'est"),
        ("en", "911 call placed by Ada Lovelace", "No emergency address is registered"),
    ],
)
def test_unlocated_call_says_it_went_to_the_sorting_center(
        language: str, subject: str, no_address_start: str) -> None:
    """Without an address the message says so, in the account language."""
    got_subject, plain, _ = render_text(_notice(address_lines=(), language=language))
    assert got_subject == subject
    assert any(line.startswith(no_address_start) for line in plain.splitlines())


def test_test_call_is_labelled_as_a_test() -> None:
    """933 notifications say TEST in the subject and that no emergency service was called."""
    subject, plain, _ = render_text(_notice(test_call=True))
    assert subject == "TEST 933 call placed by Ada Lovelace"
    assert "No emergency services were called." in plain


def test_display_name_cannot_inject_headers() -> None:
    """CR/LF and punctuation in a display name never reach a header."""
    evil = "Eve\r\nBcc: victim@example.net\r\n"
    message = build_email(_notice(caller_display_name=evil), sender="e911@example.com",
                          recipient="ops@example.com")
    raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "911 call placed by Eve Bcc victim example net"
    assert b"\r\nBcc:" not in raw


def test_address_lines_cannot_forge_body_lines_or_html() -> None:
    """Address values lose control characters and are HTML-escaped."""
    _, plain, rich = render_text(_notice(address_lines=("1 <b>MAIN</b> ST\r\nFAKE: line",)))
    assert "  1 <b>MAIN</b> ST FAKE: line" in plain.splitlines()
    assert "1 &lt;b&gt;MAIN&lt;/b&gt; ST FAKE: line" in rich


def test_recipient_with_line_break_is_refused() -> None:
    """A contact address carrying CR/LF cannot add headers."""
    with pytest.raises(ValueError):
        build_email(_notice(), sender="e911@example.com",
                    recipient="ops@example.com\r\nBcc: x@example.net")


def test_subject_name_keeps_letters_digits_and_spaces() -> None:
    """Accents are letters; punctuation goes; nothing left is "" (the subject then names the
    number, the user or an unknown caller)."""
    assert subject_name("José  O'Brien-2") == "José O Brien 2"
    assert subject_name("<>;\"") == ""
    subject, _, _ = render_text(_notice(caller_display_name="<>;\"", callback_number=""))
    assert subject == "911 call placed by Unknown caller"
