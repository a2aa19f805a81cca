"""The emergency-contact e-mail: what it says, in the account's language (pure, no I/O).

47 CFR 9.16(b)(2) asks that a central location be told a 911 call was placed. The seeds say
what contacts expect: the caller's display name, the callback number, the emergency address
sent to the PSAP (or that none was known and the call went to the sorting center), plus the
time and a call reference.

Injection: every value from users (display name, address fields) goes into the body only;
the subject uses a display name reduced to letters, digits and spaces, and the message is
rendered with `email.policy.SMTP`, which refuses CR/LF in any header.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid


@dataclass(frozen=True, slots=True)
class CallNotice:
    """What one notification says about one emergency call."""

    call_ref: str
    """Our call reference (also the record id): lets a contact quote the call to support."""
    placed_at: datetime
    """When the INVITE arrived (UTC, timezone-aware)."""
    caller_display_name: str
    callback_number: str
    """E.164, e.g. +14065551234."""
    address_lines: tuple[str, ...]
    """The address sent to the PSAP, line by line; empty when the call had no location."""
    test_call: bool = False
    """A 933 test call (sent only when E911_NOTIFY_ON_TEST_CALLS is on)."""
    language: str = "en"


_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "subject": "911 call placed by {name}",
        "subject_test": "TEST 933 call placed by {name}",
        "intro": "{name} dialled 911 at {time}.",
        "intro_test": "This is a TEST: {name} dialled the 933 E911 test line at {time}. "
                      "No emergency services were called.",
        "caller": "Caller",
        "callback": "Callback number",
        "address": "Emergency address sent to the 911 center",
        "no_address": "No registered emergency address was known for this caller's network. "
                      "The call was sent to the national emergency call sorting center, which "
                      "will ask the caller for their location.",
        "time": "Time",
        "ref": "Call reference",
        "footer": "You receive this because you are an emergency contact for this account "
                  "(Kari's Law, 47 CFR 9.16).",
    },
    "es": {
        "subject": "Llamada al 911 realizada por {name}",
        "subject_test": "PRUEBA: llamada al 933 realizada por {name}",
        "intro": "{name} marcó el 911 a las {time}.",
        "intro_test": "Esto es una PRUEBA: {name} marcó la línea de prueba E911 933 a las "
                      "{time}. No se llamó a los servicios de emergencia.",
        "caller": "Persona que llama",
        "callback": "Número de devolución de llamada",
        "address": "Dirección de emergencia enviada al centro 911",
        "no_address": "No se conocía ninguna dirección de emergencia registrada para la red "
                      "de esta persona. La llamada se envió al centro nacional de "
                      "clasificación de llamadas de emergencia, que le pedirá su ubicación.",
        "time": "Hora",
        "ref": "Referencia de la llamada",
        "footer": "Recibe este mensaje porque es un contacto de emergencia de esta cuenta "
                  "(Ley de Kari, 47 CFR 9.16).",
    },
    "fr": {
        "subject": "Appel au 911 passé par {name}",
        "subject_test": "TEST : appel au 933 passé par {name}",
        "intro": "{name} a composé le 911 à {time}.",
        "intro_test": "Ceci est un TEST : {name} a composé la ligne d'essai E911 933 à {time}. "
                      "Les services d'urgence n'ont pas été appelés.",
        "caller": "Appelant",
        "callback": "Numéro de rappel",
        "address": "Adresse d'urgence transmise au centre 911",
        "no_address": "Aucune adresse d'urgence enregistrée n'était connue pour le réseau de "
                      "cet appelant. L'appel a été acheminé au centre national de tri des "
                      "appels d'urgence, qui demandera sa position à l'appelant.",
        "time": "Heure",
        "ref": "Référence de l'appel",
        "footer": "Vous recevez ce message car vous êtes un contact d'urgence de ce compte "
                  "(loi de Kari, 47 CFR 9.16).",
    },
}

LANGUAGES = tuple(_TEXT)


def subject_name(display_name: str) -> str:
    """Letters, digits and single spaces only, at most 40 characters ("Unknown caller" if none)."""
    cleaned = re.sub(r"[^\w ]|_", " ", display_name)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()[:40].strip()
    return cleaned or "Unknown caller"


def _body_value(text: str) -> str:
    """Body values keep their letters but lose control characters (no fake lines)."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f\r\n]+", " ", text).strip()


def render_text(notice: CallNotice) -> tuple[str, str, str]:
    """(subject, plain text, HTML) for `notice` in its language (English when unknown)."""
    words = _TEXT.get(notice.language, _TEXT["en"])
    name = subject_name(notice.caller_display_name)
    when = notice.placed_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    subject = words["subject_test" if notice.test_call else "subject"].format(name=name)
    intro = words["intro_test" if notice.test_call else "intro"].format(
        name=_body_value(notice.caller_display_name) or name, time=when)
    rows = [
        (words["caller"], _body_value(notice.caller_display_name) or name),
        (words["callback"], _body_value(notice.callback_number)),
        (words["time"], when),
        (words["ref"], notice.call_ref),
    ]
    lines = [_body_value(line) for line in notice.address_lines if _body_value(line)]

    plain = [intro, ""]
    plain += [f"{label}: {value}" for label, value in rows]
    plain.append("")
    if lines:
        plain.append(f"{words['address']}:")
        plain += [f"  {line}" for line in lines]
    else:
        plain.append(words["no_address"])
    plain += ["", words["footer"], ""]

    esc = html.escape
    table = "".join(f"<tr><th align=\"left\">{esc(label)}</th><td>{esc(value)}</td></tr>"
                    for label, value in rows)
    where = (f"<p><strong>{esc(words['address'])}:</strong><br>"
             + "<br>".join(esc(line) for line in lines) + "</p>"
             if lines else f"<p>{esc(words['no_address'])}</p>")
    body_html = (f"<!doctype html><html lang=\"{esc(notice.language)}\"><body>"
                 f"<p>{esc(intro)}</p><table>{table}</table>{where}"
                 f"<p><small>{esc(words['footer'])}</small></p></body></html>")
    return subject, "\n".join(plain), body_html


def build_email(
    notice: CallNotice, *, sender: str, recipient: str, message_id: str | None = None
) -> EmailMessage:
    """One message to one contact (one recipient each, so a bounce names who missed it).

    `message_id` (RFC 5322 s3.6.4 `<left@right>`): the outbox gives each delivery one, kept
    across retries so that a message sent twice (see docs/notifications.md) carries the same
    id both times; a new random one when not given.
    """
    if message_id is not None and not re.fullmatch(r"<[A-Za-z0-9._-]+@[A-Za-z0-9.-]+>",
                                                   message_id):
        raise ValueError("message_id must look like <id@domain> (letters, digits, . _ -)")
    subject, plain, body_html = render_text(notice)
    # 7bit: non-ASCII text goes quoted-printable or base64, so no relay needs 8BITMIME
    # (RFC 6152); SMTP policy: CRLF line ends and no CR/LF accepted inside a header value.
    message = EmailMessage(policy=SMTP.clone(cte_type="7bit"))
    message["Subject"] = subject
    message["From"] = Address(addr_spec=sender)
    message["To"] = Address(addr_spec=recipient)
    message["Date"] = format_datetime(notice.placed_at)
    message["Message-ID"] = message_id or make_msgid(idstring=notice.call_ref,
                                                     domain=sender.rsplit("@", 1)[1])
    message["X-E911-Call-Ref"] = notice.call_ref
    if notice.test_call:
        message["X-E911-Test-Call"] = "yes"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    message.set_content(plain)
    message.add_alternative(body_html, subtype="html")
    return message
