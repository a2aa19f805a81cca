"""The emergency-contact e-mail: what it says, in the account's language (pure, no I/O).

47 CFR 9.16(b)(2) asks that a central location be told a 911 call was placed. The seeds say
what contacts expect: the caller's display name, the callback number, the emergency address
sent to the PSAP (or that none was known and the call went to the sorting center), plus the
time and a call reference.

Identity: the caller is named with the display name and number of the P-Asserted-Identity
the PSAP got (issue 18), never another name for the same call.

Injection: every value from callers (display name, number, SIP user, address lines) goes
through `clean_text` (no control, separator or format character: one plain line each) into
the body; the subject uses a display name reduced to letters, digits and spaces, and the
message is rendered with `email.policy.SMTP`, which refuses CR/LF in any header.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Final


@dataclass(frozen=True, slots=True)
class CallNotice:
    """What one notification says about one emergency call."""

    call_ref: str
    """Our call reference (also the record id): lets a contact quote the call to support."""
    placed_at: datetime
    """When the INVITE arrived (UTC, timezone-aware)."""
    caller_display_name: str
    """The display name of the P-Asserted-Identity sent to the PSAP ("" when none was)."""
    callback_number: str
    """The PAI's number, E.164 (+14065551234); "" when the INVITE carried no PAI."""
    address_lines: tuple[str, ...]
    """The address sent to the PSAP, line by line; empty when the call had no location."""
    test_call: bool = False
    """A 933 test call (sent only when E911_NOTIFY_ON_TEST_CALLS is on)."""
    language: str = "en"
    e911_disabled: bool = False
    """The account's E911 was off, so the 911 went to the sorting center without address."""
    sip_user: str = ""
    """The caller's SIP user (extension), so the contacts know which phone it was."""


@dataclass(frozen=True, slots=True)
class _Words:
    """One language's text. `colon` is how a label meets its value (French typography puts
    a space before the colon)."""

    subject: str
    subject_test: str
    intro: str
    intro_test: str
    caller: str
    callback: str
    user: str
    time: str
    ref: str
    address: str
    unlocated: str
    unlocated_test: str
    disabled: str
    no_name: str
    no_number: str
    unknown: str
    footer: str
    colon: str = ":"


_TEXT: Final[dict[str, _Words]] = {
    "en": _Words(
        subject="911 call placed by {name}",
        subject_test="TEST 933 call placed by {name}",
        intro="{name} dialed 911 at {time}.",
        intro_test="This is a TEST: {name} dialed the 933 E911 test line at {time}. "
                   "No emergency services were called.",
        caller="Caller",
        callback="Callback number",
        user="User",
        time="Time",
        ref="Call reference",
        address="Emergency address sent to the 911 center",
        unlocated="No emergency address is registered for this caller's network, so no "
                  "address was sent. The call went to the national emergency call sorting "
                  "center, where a call-taker asks the caller for their location.",
        unlocated_test="No emergency address is registered for this caller's network, so "
                       "the test call carried no address.",
        disabled="E911 is disabled for this account, so no address was sent: the call went "
                 "to the national emergency call sorting center, where a call-taker asks "
                 "the caller for their location. An administrator can enable E911 in the "
                 "account's emergency settings.",
        no_name="(no name was sent to the 911 center)",
        no_number="(none was sent to the 911 center: no callback number is configured)",
        unknown="Unknown caller",
        footer="You receive this because you are an emergency contact for this account "
               "(Kari's Law, 47 CFR 9.16).",
    ),
    "es": _Words(
        subject="Llamada al 911 realizada por {name}",
        subject_test="PRUEBA: llamada al 933 realizada por {name}",
        intro="{name} marcó el 911 el {time}.",
        intro_test="Esto es una PRUEBA: {name} marcó la línea de prueba E911 933 el {time}. "
                   "No se llamó a los servicios de emergencia.",
        caller="Persona que llama",
        callback="Número para devolver la llamada",
        user="Usuario",
        time="Fecha y hora",
        ref="Referencia de la llamada",
        address="Dirección de emergencia enviada al centro 911",
        unlocated="No hay ninguna dirección de emergencia registrada para la red de esta "
                  "persona, así que no se envió ninguna dirección. La llamada se envió al "
                  "centro nacional de clasificación de llamadas de emergencia, donde un "
                  "operador le pide su ubicación.",
        unlocated_test="No hay ninguna dirección de emergencia registrada para la red de esta "
                       "persona, así que la llamada de prueba no llevó ninguna dirección.",
        disabled="El servicio E911 está desactivado para esta cuenta, así que no se envió "
                 "ninguna dirección: la llamada se envió al centro nacional de clasificación "
                 "de llamadas de emergencia, donde un operador le pide su ubicación a la "
                 "persona que llama. Un administrador puede activar el servicio E911 en la "
                 "configuración de emergencia de la cuenta.",
        no_name="(no se envió ningún nombre al centro 911)",
        no_number="(no se envió ninguno al centro 911: no hay ningún número configurado)",
        unknown="Persona desconocida",
        footer="Recibe este mensaje porque es un contacto de emergencia de esta cuenta "
               "(Ley de Kari, 47 CFR 9.16).",
    ),
    "fr": _Words(
        subject="Appel au 911 passé par {name}",
        subject_test="TEST : appel au 933 passé par {name}",
        intro="{name} a composé le 911 le {time}.",
        intro_test="Ceci est un TEST : {name} a composé la ligne d'essai E911 933 le {time}. "
                   "Les services d'urgence n'ont pas été appelés.",
        caller="Appelant",
        callback="Numéro de rappel",
        user="Utilisateur",
        time="Date et heure",
        ref="Référence de l'appel",
        address="Adresse d'urgence transmise au centre 911",
        unlocated="Aucune adresse d'urgence n'est enregistrée pour le réseau de cet "
                  "appelant ; aucune adresse n'a donc été transmise. L'appel a été acheminé "
                  "au centre national de tri des appels d'urgence, où un préposé demande sa "
                  "position à l'appelant.",
        unlocated_test="Aucune adresse d'urgence n'est enregistrée pour le réseau de cet "
                       "appelant ; l'appel d'essai n'a donc transmis aucune adresse.",
        disabled="Le service E911 est désactivé pour ce compte ; aucune adresse n'a donc été "
                 "transmise : l'appel a été acheminé au centre national de tri des appels "
                 "d'urgence, où un préposé demande sa position à l'appelant. Un "
                 "administrateur peut activer le service E911 dans les paramètres d'urgence "
                 "du compte.",
        no_name="(aucun nom n'a été transmis au centre 911)",
        no_number="(aucun n'a été transmis au centre 911 : aucun numéro de rappel n'est "
                  "configuré)",
        unknown="Appelant inconnu",
        footer="Vous recevez ce message parce que vous êtes un contact d'urgence de ce compte "
               "(loi de Kari, 47 CFR 9.16).",
        colon=" :",
    ),
}

LANGUAGES = tuple(_TEXT)

_MAX_VALUE = 200
"""A caller-controlled value is cut here: no field the router stores is longer, and the
message must stay a page however an INVITE or a stored row was filled."""


def clean_text(text: str) -> str:
    """Caller-controlled text as one line of plain words (issue 13 finding 12).

    Unicode line and paragraph separators (Zl, Zp: U+2028, U+2029) and control characters
    (Cc: CR, LF, VT, FF, NEL U+0085, NUL, ESC, ...) become a space, so they can neither start
    a forged line ("Callback number: ...") in the body nor run two words together; format
    characters (Cf: zero-width, bidi marks, overrides and isolates, BOM, soft hyphen) are
    dropped, so a name cannot display differently from what it is; lone surrogates (Cs)
    cannot be encoded and go too. Other spaces become one space.
    """
    out: list[str] = []
    for ch in text[:_MAX_VALUE * 2]:
        category = unicodedata.category(ch)
        if category in ("Cf", "Cs"):
            continue
        out.append(" " if category in ("Cc", "Zl", "Zp", "Zs") else ch)
    return " ".join("".join(out).split())[:_MAX_VALUE].strip()


def subject_name(display_name: str) -> str:
    """Letters, digits and single spaces only, at most 40 characters ("" if none)."""
    cleaned = re.sub(r"[^\w ]|_", " ", clean_text(display_name))
    return " ".join(cleaned.split())[:40].strip()


def render_text(notice: CallNotice) -> tuple[str, str, str]:
    """(subject, plain text, HTML) for `notice` in its language (English when unknown).

    The caller is named as the PSAP got it (the P-Asserted-Identity's display name and
    number); when the INVITE asserted no name or no number, the message says so rather than
    putting another name in its place. The location paragraph says what happened: the
    address sent, or why none was (E911 disabled for the account; no address for the
    caller's network, then the sorting center, or for a 933 simply none).
    """
    language = notice.language if notice.language in _TEXT else "en"
    words = _TEXT[language]
    name = clean_text(notice.caller_display_name)
    number = clean_text(notice.callback_number)
    user = clean_text(notice.sip_user)
    when = notice.placed_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    who = name or number or user or words.unknown
    subject = (words.subject_test if notice.test_call else words.subject).format(
        name=subject_name(who) or words.unknown)
    intro = (words.intro_test if notice.test_call else words.intro).format(name=who,
                                                                         time=when)
    rows = [(words.caller, name or words.no_name), (words.callback, number or words.no_number)]
    if user:
        rows.append((words.user, user))
    rows += [(words.time, when), (words.ref, clean_text(notice.call_ref))]
    lines = [line for line in map(clean_text, notice.address_lines) if line]
    if lines:
        where = ""
    elif notice.test_call:
        where = words.unlocated_test
    else:
        where = words.disabled if notice.e911_disabled else words.unlocated

    plain = [intro, ""]
    plain += [f"{label}{words.colon} {value}" for label, value in rows]
    plain.append("")
    if lines:
        plain.append(f"{words.address}{words.colon}")
        plain += [f"  {line}" for line in lines]
    else:
        plain.append(where)
    plain += ["", words.footer, ""]

    esc = html.escape
    table = "".join(f"<tr><th align=\"left\">{esc(label)}</th><td>{esc(value)}</td></tr>"
                    for label, value in rows)
    place = (f"<p><strong>{esc(words.address)}{esc(words.colon)}</strong><br>"
             + "<br>".join(esc(line) for line in lines) + "</p>"
             if lines else f"<p>{esc(where)}</p>")
    body_html = (f"<!doctype html><html lang=\"{language}\"><body>"
                 f"<p>{esc(intro)}</p><table>{table}</table>{place}"
                 f"<p><small>{esc(words.footer)}</small></p></body></html>")
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
