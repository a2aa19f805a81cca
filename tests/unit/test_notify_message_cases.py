"""The emergency-contact e-mail per language and per case (issue 18): located, unlocated,
E911 disabled, test call, no name or no callback number sent. Subject and body are compared
whole, so a missing or untranslated line fails."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from router.notify.message import LANGUAGES, CallNotice, render_text

WHEN = datetime(2026, 11, 23, 15, 4, 5, tzinfo=UTC)
LINES = ("101 E MAIN ST STE 4", "WHITE SULPHUR SPRINGS MT 59645")


def notice(**changes: object) -> CallNotice:
    base: dict[str, object] = {
        "call_ref": "call_0001", "placed_at": WHEN, "caller_display_name": "Acme Support",
        "callback_number": "+14065550100", "address_lines": LINES, "sip_user": "2003",
    }
    base.update(changes)
    return CallNotice(**base)  # type: ignore[arg-type]


FOOTER = {
    "en": "You receive this because you are an emergency contact for this account "
          "(Kari's Law, 47 CFR 9.16).",
    "es": "Recibe este mensaje porque es un contacto de emergencia de esta cuenta "
          "(Ley de Kari, 47 CFR 9.16).",
    "fr": "Vous recevez ce message parce que vous êtes un contact d'urgence de ce compte "
          "(loi de Kari, 47 CFR 9.16).",
}
HEAD = {
    "en": ["Acme Support dialed 911 at 2026-11-23 15:04:05 UTC.", "",
           "Caller: Acme Support", "Callback number: +14065550100", "User: 2003",
           "Time: 2026-11-23 15:04:05 UTC", "Call reference: call_0001", ""],
    "es": ["Acme Support marcó el 911 el 2026-11-23 15:04:05 UTC.", "",
           "Persona que llama: Acme Support",
           "Número para devolver la llamada: +14065550100", "Usuario: 2003",
           "Fecha y hora: 2026-11-23 15:04:05 UTC", "Referencia de la llamada: call_0001", ""],
    "fr": ["Acme Support a composé le 911 le 2026-11-23 15:04:05 UTC.", "",
           "Appelant : Acme Support", "Numéro de rappel : +14065550100",
           "Utilisateur : 2003", "Date et heure : 2026-11-23 15:04:05 UTC",
           "Référence de l'appel : call_0001", ""],
}
SUBJECT = {"en": "911 call placed by Acme Support",
           "es": "Llamada al 911 realizada por Acme Support",
           "fr": "Appel au 911 passé par Acme Support"}
ADDRESS = {"en": "Emergency address sent to the 911 center:",
           "es": "Dirección de emergencia enviada al centro 911:",
           "fr": "Adresse d'urgence transmise au centre 911 :"}
UNLOCATED = {
    "en": "No emergency address is registered for this caller's network, so no address was "
          "sent. The call went to the national emergency call sorting center, where a "
          "call-taker asks the caller for their location.",
    "es": "No hay ninguna dirección de emergencia registrada para la red de esta persona, así "
          "que no se envió ninguna dirección. La llamada se envió al centro nacional de "
          "clasificación de llamadas de emergencia, donde un operador le pide su ubicación.",
    "fr": "Aucune adresse d'urgence n'est enregistrée pour le réseau de cet appelant ; aucune "
          "adresse n'a donc été transmise. L'appel a été acheminé au centre national de tri "
          "des appels d'urgence, où un préposé demande sa position à l'appelant.",
}
DISABLED = {
    "en": "E911 is disabled for this account, so no address was sent: the call went to the "
          "national emergency call sorting center, where a call-taker asks the caller for "
          "their location. An administrator can enable E911 in the account's emergency "
          "settings.",
    "es": "El servicio E911 está desactivado para esta cuenta, así que no se envió ninguna "
          "dirección: la llamada se envió al centro nacional de clasificación de llamadas de "
          "emergencia, donde un operador le pide su ubicación a la persona que llama. Un "
          "administrador puede activar el servicio E911 en la configuración de emergencia de "
          "la cuenta.",
    "fr": "Le service E911 est désactivé pour ce compte ; aucune adresse n'a donc été "
          "transmise : l'appel a été acheminé au centre national de tri des appels d'urgence, "
          "où un préposé demande sa position à l'appelant. Un administrateur peut activer le "
          "service E911 dans les paramètres d'urgence du compte.",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_located_call_names_the_caller_and_the_address_sent(language: str) -> None:
    """Subject, caller, callback, user, time, reference, address, footer: all translated."""
    subject, plain, _ = render_text(notice(language=language))
    assert subject == SUBJECT[language]
    assert plain.splitlines() == [*HEAD[language], ADDRESS[language],
                                  "  101 E MAIN ST STE 4", "  WHITE SULPHUR SPRINGS MT 59645",
                                  "", FOOTER[language]]


@pytest.mark.parametrize("language", LANGUAGES)
def test_unlocated_911_says_it_went_to_the_sorting_center(language: str) -> None:
    """No address known: no address block; the sorting center, in the account's language."""
    subject, plain, rich = render_text(notice(language=language, address_lines=()))
    assert subject == SUBJECT[language]
    assert plain.splitlines() == [*HEAD[language], UNLOCATED[language], "", FOOTER[language]]
    assert ADDRESS[language] not in rich


@pytest.mark.parametrize("language", LANGUAGES)
def test_e911_disabled_says_so_not_that_no_address_was_known(language: str) -> None:
    """The account's E911 is off: the message says that, never "no address was known"."""
    _, plain, rich = render_text(notice(language=language, address_lines=(),
                                        e911_disabled=True))
    assert plain.splitlines() == [*HEAD[language], DISABLED[language], "", FOOTER[language]]
    assert UNLOCATED[language] not in plain
    assert "E911" in rich and UNLOCATED[language][:30] not in rich


@pytest.mark.parametrize(("language", "subject", "intro", "no_address"), [
    ("en", "TEST 933 call placed by Acme Support",
     "This is a TEST: Acme Support dialed the 933 E911 test line at 2026-11-23 15:04:05 UTC. "
     "No emergency services were called.",
     "No emergency address is registered for this caller's network, so the test call "
     "carried no address."),
    ("es", "PRUEBA: llamada al 933 realizada por Acme Support",
     "Esto es una PRUEBA: Acme Support marcó la línea de prueba E911 933 el 2026-11-23 "
     "15:04:05 UTC. No se llamó a los servicios de emergencia.",
     "No hay ninguna dirección de emergencia registrada para la red de esta persona, así que "
     "la llamada de prueba no llevó ninguna dirección."),
    ("fr", "TEST : appel au 933 passé par Acme Support",
     "Ceci est un TEST : Acme Support a composé la ligne d'essai E911 933 le 2026-11-23 "
     "15:04:05 UTC. Les services d'urgence n'ont pas été appelés.",
     "Aucune adresse d'urgence n'est enregistrée pour le réseau de cet appelant ; l'appel "
     "d'essai n'a donc transmis aucune adresse."),
])
def test_unlocated_933_is_a_test_and_never_mentions_the_sorting_center(
        language: str, subject: str, intro: str, no_address: str) -> None:
    """A 933 goes to the test line, not the sorting center: the text says what happened."""
    got_subject, plain, _ = render_text(notice(language=language, address_lines=(),
                                               test_call=True))
    assert got_subject == subject
    lines = plain.splitlines()
    assert lines[0] == intro
    assert lines[-3:] == [no_address, "", FOOTER[language]]


@pytest.mark.parametrize(("language", "caller", "callback", "subject"), [
    ("en", "Caller: (no name was sent to the 911 center)",
     "Callback number: (none was sent to the 911 center: no callback number is configured)",
     "911 call placed by 2003"),
    ("es", "Persona que llama: (no se envió ningún nombre al centro 911)",
     "Número para devolver la llamada: (no se envió ninguno al centro 911: no hay ningún "
     "número configurado)", "Llamada al 911 realizada por 2003"),
    ("fr", "Appelant : (aucun nom n'a été transmis au centre 911)",
     "Numéro de rappel : (aucun n'a été transmis au centre 911 : aucun numéro de rappel "
     "n'est configuré)", "Appel au 911 passé par 2003"),
])
def test_no_name_and_no_number_sent_are_said_plainly(language: str, caller: str,
                                                     callback: str, subject: str) -> None:
    """Nothing asserted to the PSAP: the e-mail says so instead of inventing a name; the
    subject falls back to the user."""
    got_subject, plain, _ = render_text(notice(language=language, caller_display_name="",
                                               callback_number=""))
    assert got_subject == subject
    lines = plain.splitlines()
    assert lines[2:4] == [caller, callback]


def test_unknown_language_is_english() -> None:
    """A language the router does not speak gets the English text (and `lang="en"`)."""
    subject, _, rich = render_text(notice(language="de"))
    assert subject == SUBJECT["en"]
    assert rich.startswith('<!doctype html><html lang="en">')
