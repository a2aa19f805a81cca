"""What the contacts receive over real SMTP (aiosmtpd), after the notice went through the
outbox on SQLite and PostgreSQL: the E911-disabled case survives the store (migration 0009),
and caller-controlled separators never reach the delivered message (issues 18 and 13)."""

from __future__ import annotations

import unicodedata
from typing import Any

from router.notify.outbox import Outbox
from router.store.store import Store
from tests.support.notices import make_sender, notice, with_contacts
from tests.support.smtp_server import SmtpServer


def _deliver_one(store: Store, smtp_server: SmtpServer, **changes: Any) -> tuple[str, str]:
    """Record `notice(**changes)` for one contact, send it, return (Subject, plain text)."""
    outbox = Outbox(with_contacts(store, ("ops@example.com",)),
                    message_id_domain="router.example")
    call = notice(**changes)
    assert outbox.record_call(call) is True
    stored = outbox.get_call(call.call_ref)
    assert stored is not None and stored.notice == call
    assert make_sender(store, smtp_server.url).run_once() == 1
    (received,) = smtp_server.handler.wait_for(1)
    return str(received.message["Subject"]), received.text()


def test_e911_disabled_call_is_explained_in_the_delivered_email(
        store: Store, smtp_server: SmtpServer) -> None:
    """Stored with e911_disabled, e-mailed in French: "E911 is disabled", not "no address
    registered", and no address block."""
    subject, text = _deliver_one(store, smtp_server, address_lines=None, language="fr",
                                 e911_disabled=True)
    assert subject == "Appel au 911 passé par Ada Lovelace"
    assert ("Le service E911 est désactivé pour ce compte ; aucune adresse n'a donc été "
            "transmise") in text
    assert "Aucune adresse d'urgence n'est enregistrée" not in text
    assert "Adresse d'urgence transmise" not in text


def test_separators_in_a_display_name_never_reach_the_delivered_email(
        store: Store, smtp_server: SmtpServer) -> None:
    """U+2028, NEL and a bidi override stored in the notice are gone from what the SMTP
    server received: the forged "Callback number" stays on the caller's line."""
    subject, text = _deliver_one(
        store, smtp_server,
        caller_display_name="Eve\u2028Callback number: +19995550000\x85Mal\u202elory",
        sip_user="2003\u2029Call reference: call_fake")
    assert [line for line in text.splitlines() if line.startswith("Callback number:")] == [
        "Callback number: +14065551234"]
    assert "Caller: Eve Callback number: +19995550000 Mallory" in text.splitlines()
    assert "User: 2003 Call reference: call_fake" in text.splitlines()
    assert subject == "911 call placed by Eve Callback number 19995550000 Mallory"
    assert [ch for ch in subject + text if ch != "\n"
            and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")] == []
