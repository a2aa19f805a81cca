"""One caller identity, end to end (issue 18): SIPp dials 911 through a real worker, a SIPp
trunk logs the INVITE it receives, a real `notify sender` e-mails the contact over real SMTP
(aiosmtpd). The e-mail names the caller with the display name and number of the
P-Asserted-Identity the trunk received, in the account's callback language, and says why
no address was sent when none was."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from router.location.model import DEFAULT_ACCOUNT_ID, Callback
from router.store.store import Store, open_store
from tests.support.seeded_store import ACCOUNT_CALLBACK, LOCATED_USER
from tests.support.sender_process import spawn_sender
from tests.support.sip_messages import parse_sip_message
from tests.support.sipp import run_uac, uas_trunks
from tests.support.smtp_server import SmtpServer
from tests.support.worker import WorkerFactory

pytestmark = [pytest.mark.scenario]


@dataclass(frozen=True)
class Delivered:
    """What the trunk and the contact got for one 911."""

    pai_name: str
    pai_number: str
    subject: str
    lines: list[str]


def place_911(worker_factory: WorkerFactory, store_url: str, tmp_path: Path, *,
              trunk: str, caller_csv: str) -> Delivered:
    """One 911 from `caller_csv` to a SIPp trunk set as `trunk` (E911_TRUNK_PSAP or
    E911_TRUNK_SORTING_CENTER); the PAI it received and the e-mail the contact received."""
    smtp = SmtpServer().start()
    sender = spawn_sender(store_url, smtp.url, tmp_path, poll_seconds=0.2)
    try:
        with uas_trunks(tmp_path, "uas-psap-answer") as (uas,):
            worker = worker_factory(**{trunk: uas.uri})
            result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911",
                             caller_csv=caller_csv)
            assert result.ok, result.errors
            (invite,) = uas.wait_invites(1)
            (received,) = smtp.handler.wait_for(1, timeout=15)
    finally:
        sender.stop()
        smtp.stop()
    pai = parse_sip_message(invite).header("P-Asserted-Identity")
    assert pai is not None, invite
    name = pai.split('"')[1] if pai.startswith('"') else ""
    number = pai.split("<sip:", 1)[1].split("@", 1)[0]
    return Delivered(name, number, str(received.message["Subject"]),
                     received.text().splitlines())


@contextlib.contextmanager
def seeded(store_url: str, language: str) -> Iterator[Store]:
    """The scenario store with the account callback speaking `language`, for more edits."""
    store = open_store(store_url)
    try:
        store.update_account(DEFAULT_ACCOUNT_ID,
                             callback=Callback("Acme Dispatch", ACCOUNT_CALLBACK, language))
        yield store
    finally:
        store.close()


def test_agent_without_display_name_is_named_in_the_email_as_in_the_pai(
        worker_factory: WorkerFactory, store_url: str, tmp_path: Path) -> None:
    """The agent has no name of its own and its phone says "Caller 1001" in From: the PSAP
    trunk's PAI says "Acme Dispatch" and the account's number, and so does the e-mail, in the
    account's callback language (French)."""
    with seeded(store_url, "fr") as store:
        store.upsert_user(DEFAULT_ACCOUNT_ID, LOCATED_USER)  # no name, account callback
    got = place_911(worker_factory, store_url, tmp_path, trunk="E911_TRUNK_PSAP",
                    caller_csv="callers-located.csv")
    assert (got.pai_name, got.pai_number) == ("Acme Dispatch", ACCOUNT_CALLBACK)
    assert got.subject == "Appel au 911 passé par Acme Dispatch"
    assert f"Appelant : {got.pai_name}" in got.lines
    assert f"Numéro de rappel : {got.pai_number}" in got.lines
    assert f"Utilisateur : {LOCATED_USER}" in got.lines
    assert "Caller 1001" not in "\n".join(got.lines)
    assert "Adresse d'urgence transmise au centre 911 :" in got.lines


def test_e911_disabled_email_says_so_and_names_the_caller_as_the_pai(
        worker_factory: WorkerFactory, store_url: str, tmp_path: Path) -> None:
    """E911 off: the located caller's 911 reaches the sorting-center trunk without a
    location; the Spanish e-mail says E911 is disabled (not "no address registered") and
    names the caller as that trunk's PAI does."""
    with seeded(store_url, "es") as store:
        store.update_account(DEFAULT_ACCOUNT_ID, enabled=False)
    got = place_911(worker_factory, store_url, tmp_path, trunk="E911_TRUNK_SORTING_CENTER",
                    caller_csv="callers-located.csv")
    assert (got.pai_name, got.pai_number) == ("Ada Lovelace", "+14065551001")
    assert f"Persona que llama: {got.pai_name}" in got.lines
    assert f"Número para devolver la llamada: {got.pai_number}" in got.lines
    assert any(line.startswith("El servicio E911 está desactivado para esta cuenta")
               for line in got.lines)
    assert not any(line.startswith("No hay ninguna dirección de emergencia registrada")
                   for line in got.lines)


def test_unlocated_caller_email_says_no_address_was_registered(
        worker_factory: WorkerFactory, store_url: str, tmp_path: Path) -> None:
    """2002 has no address: sorting center; the e-mail says no address is registered for
    the caller's network and names the caller as the PAI (the user's name, the account's
    number)."""
    got = place_911(worker_factory, store_url, tmp_path, trunk="E911_TRUNK_SORTING_CENTER",
                    caller_csv="callers-unlocated.csv")
    assert (got.pai_name, got.pai_number) == ("Grace Hopper", ACCOUNT_CALLBACK)
    assert got.subject == "911 call placed by Grace Hopper"
    assert f"Caller: {got.pai_name}" in got.lines
    assert f"Callback number: {got.pai_number}" in got.lines
    assert any(line.startswith("No emergency address is registered for this caller's "
                               "network") for line in got.lines)
