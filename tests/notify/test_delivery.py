"""Delivery over real SMTP (aiosmtpd on loopback), on SQLite and PostgreSQL."""

from __future__ import annotations

import ssl
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult
from structlog.testing import capture_logs

from router.notify.model import DeliveryState
from router.notify.outbox import Outbox
from router.notify.sender import RetryPolicy, ServerBackoff
from router.store.store import Store
from tests.support.notices import CONTACTS, SENDER, make_sender, notice, run_until, with_contacts
from tests.support.ports import free_port
from tests.support.smtp_server import SmtpServer, make_cert


def _outbox(store: Store) -> Outbox:
    return Outbox(store, message_id_domain="router.example")


def _states(outbox: Outbox, call_ref: str) -> list[str]:
    call = outbox.get_call(call_ref)
    assert call is not None
    return [d.state.value for d in call.deliveries]


def test_email_reaches_each_contact_with_the_call_fields(
    store: Store, smtp_server: SmtpServer
) -> None:
    """One message per contact: subject, caller, callback, address, reference, Message-ID."""
    outbox = _outbox(with_contacts(store))
    call = notice()
    assert outbox.record_call(call) is True
    sender = make_sender(store, smtp_server.url)

    assert sender.run_once() == 2
    got = smtp_server.handler.wait_for(2)

    assert sorted(m.rcpt_tos for m in got) == [(c,) for c in sorted(CONTACTS)]
    stored = outbox.get_call(call.call_ref)
    assert stored is not None
    by_recipient = {d.recipient: d for d in stored.deliveries}
    for received in got:
        message = received.message
        delivery = by_recipient[received.rcpt_tos[0]]
        assert received.mail_from == SENDER
        assert message["Subject"] == "911 call placed by Ada Lovelace"
        assert message["To"] == received.rcpt_tos[0]
        assert message["Message-ID"] == delivery.message_id
        assert message["X-E911-Call-Ref"] == call.call_ref
        text = received.text()
        assert "Callback number: +14065551234" in text
        assert f"Call reference: {call.call_ref}" in text
        assert ("Emergency address sent to the 911 center:\n  105 E LARAMIE ST STE 4\n"
                "  WHITE SULPHUR SPRINGS MT 59645") in text
    assert [d.state for d in stored.deliveries] == [DeliveryState.SENT, DeliveryState.SENT]
    assert all(d.attempts == 1 and d.sent_at is not None and d.smtp_reply is not None
               and d.smtp_reply.startswith("250") and not d.possible_duplicate
               for d in stored.deliveries)
    events = store.list_events("acct_default", types=["notification.sent"])
    assert sorted((e.data["recipient"], e.data["call_ref"]) for e in events) == sorted(
        (c, call.call_ref) for c in CONTACTS)


def test_call_to_sorting_center_says_no_address_was_known(
    store: Store, smtp_server: SmtpServer
) -> None:
    """No location: the body says the call went to the sorting center, in Spanish here (and
    the accents travel 7-bit, so no relay needs 8BITMIME)."""
    outbox = _outbox(with_contacts(store, ("ops@example.com",)))
    outbox.record_call(notice(address_lines=None, language="es"))
    make_sender(store, smtp_server.url).run_once()
    (received,) = smtp_server.handler.wait_for(1)
    assert received.message["Subject"] == "Llamada al 911 realizada por Ada Lovelace"
    assert "centro nacional de clasificación de llamadas de emergencia" in received.text()
    assert "Dirección de emergencia enviada" not in received.text()
    assert max(received.raw) < 0x80


def test_smtp_down_at_call_time_is_delivered_once_it_is_back(store: Store) -> None:
    """Connection refused -> the delivery stays pending, untried (the server backs off, not the
    delivery); the server starts; then sent on its first attempt."""
    port = free_port()
    outbox = _outbox(with_contacts(store, ("ops@example.com",)))
    call = notice()
    outbox.record_call(call)
    sender = make_sender(store, f"smtp://127.0.0.1:{port}",
                         server_backoff=ServerBackoff(first_delay_seconds=0.05,
                                                      max_delay_seconds=0.1))

    assert sender.run_once() == 0
    (delivery,) = outbox.get_call(call.call_ref).deliveries  # type: ignore[union-attr]
    assert (delivery.state, delivery.attempts, delivery.last_error) == (
        DeliveryState.PENDING, 0, None)

    server = SmtpServer(port).start()
    try:
        run_until(sender, lambda: _states(outbox, call.call_ref) == ["sent"])
        (received,) = server.handler.wait_for(1)
        (delivery,) = outbox.get_call(call.call_ref).deliveries  # type: ignore[union-attr]
        assert delivery.attempts == 1
        assert delivery.last_error is None
        assert received.message["Message-ID"] == delivery.message_id
    finally:
        server.stop()


def test_permanent_refusal_fails_that_recipient_with_the_smtp_error(
    store: Store, smtp_server: SmtpServer
) -> None:
    """550 on RCPT: that delivery is failed with the server's words; the other is sent."""
    smtp_server.handler.rcpt_reply = (
        lambda a: "550 5.1.1 mailbox unavailable" if a == "security@example.com" else None)
    outbox = _outbox(with_contacts(store))
    call = notice()
    outbox.record_call(call)
    make_sender(store, smtp_server.url).run_once()

    stored = outbox.get_call(call.call_ref)
    assert stored is not None
    ops, security = stored.deliveries
    assert (ops.recipient, ops.state) == ("ops@example.com", DeliveryState.SENT)
    assert (security.state, security.last_error, security.attempts) == (
        DeliveryState.FAILED, "RCPT TO refused: 550 5.1.1 mailbox unavailable", 1)
    failed = store.list_events("acct_default", types=["notification.failed"])
    assert [(e.data["recipient"], e.data["error"]) for e in failed] == [
        ("security@example.com", "RCPT TO refused: 550 5.1.1 mailbox unavailable")]


def test_temporary_refusal_retries_until_accepted(store: Store, smtp_server: SmtpServer) -> None:
    """451 after the data: retrying with the error text, then sent on a later attempt."""
    replies = iter(["451 4.3.0 try again later", "451 4.3.0 try again later"])
    smtp_server.handler.data_reply = lambda m: next(replies, "250 OK queued")
    outbox = _outbox(with_contacts(store, ("ops@example.com",)))
    call = notice()
    outbox.record_call(call)
    sender = make_sender(store, smtp_server.url)
    sender.run_once()
    (delivery,) = outbox.get_call(call.call_ref).deliveries  # type: ignore[union-attr]
    assert (delivery.state, delivery.last_error) == (
        DeliveryState.RETRYING, "message refused: 451 4.3.0 try again later")
    assert delivery.possible_duplicate is False  # the server answered: it has nothing

    run_until(sender, lambda: _states(outbox, call.call_ref) == ["sent"])
    (delivery,) = outbox.get_call(call.call_ref).deliveries  # type: ignore[union-attr]
    assert delivery.attempts == 3
    assert len(smtp_server.handler.wait_for(1)) == 1


def test_retrying_gives_up_after_the_window(store: Store, smtp_server: SmtpServer) -> None:
    """Past the retry window a delivery the server keeps refusing for now (451) becomes
    failed, once."""
    smtp_server.handler.data_reply = lambda m: "451 4.3.0 try again later"
    outbox = _outbox(with_contacts(store, ("ops@example.com",)))
    call = notice()
    outbox.record_call(call)
    sender = make_sender(store, smtp_server.url,
                         retry=RetryPolicy(first_delay_seconds=0.05, max_delay_seconds=0.1,
                                           give_up_after=timedelta(seconds=0.5)))
    run_until(sender, lambda: _states(outbox, call.call_ref) == ["failed"])
    (delivery,) = outbox.get_call(call.call_ref).deliveries  # type: ignore[union-attr]
    assert delivery.last_error == (
        "gave up after 0.5 s: message refused: 451 4.3.0 try again later")
    assert sender.run_once() == 0


def test_header_injection_through_name_and_address_is_impossible(
    store: Store, smtp_server: SmtpServer
) -> None:
    """CR/LF in the display name or address lines never become headers or recipients."""
    outbox = _outbox(with_contacts(store, ("ops@example.com",)))
    call = notice(
        caller_display_name="Eve\r\nBcc: victim@example.org\r\nX-Injected: 1",
        address_lines=("1 MAIN ST\r\nBcc: other@example.org", "\nSubject: fake"),
    )
    outbox.record_call(call)
    make_sender(store, smtp_server.url).run_once()
    (received,) = smtp_server.handler.wait_for(1)

    assert received.rcpt_tos == ("ops@example.com",)
    names = [n.lower() for n in received.header_names()]
    assert "bcc" not in names and "x-injected" not in names
    assert names.count("subject") == 1
    assert received.message["Subject"] == (
        "911 call placed by Eve Bcc victim example org X Injected 1")
    head = received.raw.split(b"\r\n\r\n", 1)[0]
    assert b"victim@example.org" not in head and b"other@example.org" not in head
    text = received.text()
    assert "\nBcc:" not in text and "\nSubject: fake" not in text
    assert "1 MAIN ST Bcc: other@example.org" in text


def test_a_contact_address_carrying_a_header_is_failed_not_sent(
    store: Store, smtp_server: SmtpServer
) -> None:
    """A stored recipient with CR/LF is refused before any SMTP command (failed, no mail)."""
    outbox = _outbox(with_contacts(store, ("ops@example.com\r\nBcc: victim@example.org",
                                           "good@example.com")))
    call = notice()
    outbox.record_call(call)
    make_sender(store, smtp_server.url).run_once()
    (received,) = smtp_server.handler.wait_for(1)
    assert received.rcpt_tos == ("good@example.com",)
    stored = outbox.get_call(call.call_ref)
    assert stored is not None
    bad = stored.deliveries[0]
    assert bad.state is DeliveryState.FAILED
    assert bad.last_error is not None and bad.last_error.startswith("cannot build the message")


class _Auth:
    def __call__(self, server: object, session: object, envelope: object, mechanism: str,
                 auth_data: object) -> AuthResult:
        login = getattr(auth_data, "login", b"")
        password = getattr(auth_data, "password", b"")
        ok = (login, password) == (b"router", b"s3cret word")
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_server(tmp_path: Path) -> tuple[SmtpServer, Path]:
    cert, key = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer(tls_context=context, require_starttls=True, auth_required=True,
                        auth_require_tls=True, authenticator=_Auth())
    return server, cert


def test_starttls_and_auth_deliver(store: Store, tls_server: tuple[SmtpServer, Path]) -> None:
    """smtp+starttls://user:pass@ with the server's CA: STARTTLS, AUTH, then the message."""
    server, cert = tls_server
    server.start()
    try:
        outbox = _outbox(with_contacts(store, ("ops@example.com",)))
        call = notice()
        outbox.record_call(call)
        url = f"smtp+starttls://router:s3cret%20word@127.0.0.1:{server.port}?cafile={cert}"
        make_sender(store, url).run_once()
        (received,) = server.handler.wait_for(1)
        assert received.rcpt_tos == ("ops@example.com",)
        assert _states(outbox, call.call_ref) == ["sent"]
    finally:
        server.stop()


def test_wrong_password_or_untrusted_certificate_backs_off_on_the_server(
    store: Store, tls_server: tuple[SmtpServer, Path]
) -> None:
    """535 on AUTH and an unverifiable certificate are the server's configuration, the same
    for every delivery: smtp_unreachable says why, the delivery stays pending and untried."""
    server, cert = tls_server
    server.start()
    try:
        outbox = _outbox(with_contacts(store, ("ops@example.com",)))
        call = notice()
        outbox.record_call(call)
        with capture_logs() as logs:
            assert make_sender(store, f"smtp+starttls://router:wrong@127.0.0.1:{server.port}"
                                      f"?cafile={cert}").run_once() == 0
            assert make_sender(
                store, f"smtp+starttls://router:s3cret%20word@127.0.0.1:{server.port}"
            ).run_once() == 0
        assert [(e["code"], e["error"]) for e in logs
                if e["event"] == "e911.notify.smtp_unreachable"] == [
            (535, None), (None, "TLS: CERTIFICATE_VERIFY_FAILED")]
        (delivery,) = outbox.get_call(call.call_ref).deliveries  # type: ignore[union-attr]
        assert (delivery.state, delivery.attempts, delivery.last_error) == (
            DeliveryState.PENDING, 0, None)
        assert server.handler.received == []
    finally:
        server.stop()
