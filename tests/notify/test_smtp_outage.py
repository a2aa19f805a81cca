"""The SMTP server unreachable: the sender backs off on the server (one connection attempt per
step, deliveries given back untried), then sends everything once it is back. Real sockets, real
aiosmtpd, the store on SQLite and PostgreSQL."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from structlog.testing import capture_logs

from router.metrics import REGISTRY
from router.notify.model import Claim, DeliveryState
from router.notify.outbox import Outbox
from router.notify.sender import (
    RetryPolicy,
    Sender,
    SenderConfig,
    ServerBackoff,
    ServerState,
    equal_jitter,
)
from router.notify.smtp import SmtpSession, SmtpTarget
from router.store.store import Store
from tests.support.notices import SENDER, notice, with_contacts
from tests.support.smtp_server import Handler, SmtpServer

LEASE = timedelta(minutes=10)


class ClosingListener:
    """A TCP listener on 127.0.0.1 that accepts and closes at once (no SMTP greeting), and
    counts the connections: the sender's connection attempts, exactly."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port: int = self._sock.getsockname()[1]
        self.connections = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed by stop()
                return
            with self._lock:
                self.connections += 1  # counted before the close the client waits for
            conn.close()

    def stop(self) -> None:
        self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)
        assert not self._thread.is_alive()


@pytest.fixture
def closing_listener() -> Iterator[ClosingListener]:
    listener = ClosingListener()
    yield listener
    if listener._sock.fileno() != -1:
        listener.stop()


class Clock:
    """The sender's clock, moved by the test (backoff steps without waiting them out)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _sender(store: Store, port: int, clock: Clock, **session: Any) -> Sender:
    target = SmtpTarget.from_url(f"smtp://127.0.0.1:{port}")
    return Sender(Outbox(store, message_id_domain="router.example"),
                  lambda: SmtpSession(target, timeout=5, **session),
                  SenderConfig(sender_address=SENDER, lease=LEASE, poll_seconds=0.05,
                               retry=RetryPolicy(first_delay_seconds=60),
                               server_backoff=ServerBackoff()),
                  events=store, clock=clock, rand=lambda: 0.0)


def _oldest_pending_gauge() -> float:
    value = REGISTRY.get_sample_value("e911_notification_oldest_pending_seconds")
    assert value is not None
    return value


def _notify_events(logs: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in logs if e["event"].startswith("e911.notify.smtp_")]


def test_server_backoff_doubles_from_one_second_to_thirty_with_equal_jitter() -> None:
    """Failure n waits between half and all of min(30, 2^(n-1)) s; never zero."""
    backoff = ServerBackoff()
    assert [backoff.delay(n, 0.0).total_seconds() for n in range(1, 8)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert [backoff.delay(n, 0.5).total_seconds() for n in (1, 3, 5, 6, 40)] == [
        0.75, 3.0, 12.0, 22.5, 22.5]
    assert backoff.delay(6, 0.999).total_seconds() == pytest.approx(29.985, abs=1e-9)
    assert equal_jitter(5.0, 300.0, 0, 0.0) == 2.5  # before any failure: the first step
    assert RetryPolicy().delay(2, 0.0) == timedelta(seconds=5)  # per delivery: unchanged


def test_smtp_down_releases_the_batch_untried_and_connects_once_per_backoff_step(
    store: Store, closing_listener: ClosingListener
) -> None:
    """10 deliveries due, a server that closes before its greeting: one connection attempt
    per backoff step, no attempt counted, one smtp_unreachable; back up: each sent once."""
    outbox = Outbox(with_contacts(store), message_id_domain="router.example")
    recorded_at = datetime.now(UTC).replace(microsecond=0)
    calls = [notice() for _ in range(5)]
    for call in calls:
        assert outbox.record_call(call, now=recorded_at) is True
    clock = Clock(recorded_at + timedelta(seconds=1))
    sender = _sender(store, closing_listener.port, clock)

    with capture_logs() as logs:
        assert sender.run_once() == 0
    assert closing_listener.connections == 1
    assert sender.server_state is ServerState.UNREACHABLE
    deliveries = outbox.list_deliveries()
    assert len(deliveries) == 10
    assert {(d.state, d.attempts, d.last_attempt_at, d.last_error) for d in deliveries} == {
        (DeliveryState.PENDING, 0, None, None)}
    (unreachable,) = [e for e in logs if e["event"] == "e911.notify.smtp_unreachable"]
    assert {k: unreachable[k] for k in ("released", "code", "error", "retry_in_s")} == {
        "released": 10, "code": None, "retry_in_s": 0.5,
        "error": "SMTP server disconnected: Connection unexpectedly closed"}

    # Steps of 0.5, 1, 2, 4 s (rand 0): nothing before each step ends, one attempt at its end.
    with capture_logs() as logs:
        for step, wait in enumerate((0.5, 1.0, 2.0, 4.0), start=1):
            clock.now += timedelta(seconds=wait) - timedelta(milliseconds=1)
            assert sender.run_once() == 0
            assert closing_listener.connections == step
            clock.now += timedelta(milliseconds=1)
            assert sender.run_once() == 0
            assert closing_listener.connections == step + 1
            sender.update_stats(force=True)
            assert _oldest_pending_gauge() == (clock.now - recorded_at).total_seconds()
    # One smtp_unreachable per outage; each later failed attempt is a debug line.
    assert [(e["event"], e["failures"], e["retry_in_s"]) for e in logs
            if e["event"].startswith("e911.notify.smtp_")] == [
        ("e911.notify.smtp_still_unreachable", n, w)
        for n, w in ((2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0))]
    assert {(d.state, d.attempts) for d in outbox.list_deliveries()} == {
        (DeliveryState.PENDING, 0)}

    closing_listener.stop()
    server = SmtpServer(closing_listener.port).start()
    try:
        clock.now += timedelta(seconds=8)
        with capture_logs() as logs:
            assert sender.run_once() == 10
        received = server.handler.wait_for(10)
    finally:
        server.stop()
    assert _notify_events(logs) == ["e911.notify.smtp_recovered"]
    (recovered,) = [e for e in logs if e["event"] == "e911.notify.smtp_recovered"]
    assert (recovered["failed_attempts"], recovered["outage_s"]) == (5, 15.5)
    assert sender.server_state is ServerState.REACHABLE
    deliveries = outbox.list_deliveries()
    assert sorted(m.message["Message-ID"] for m in received) == sorted(
        d.message_id for d in deliveries)
    assert {(d.state, d.attempts, d.possible_duplicate) for d in deliveries} == {
        (DeliveryState.SENT, 1, False)}
    assert sender.run_once() == 0
    sender.update_stats(force=True)
    assert _oldest_pending_gauge() == 0.0


def test_port_with_nothing_listening_is_one_refused_attempt_per_step(store: Store) -> None:
    """Connection refused: the same backoff; a retrying row keeps its attempts and error."""
    outbox = Outbox(with_contacts(store, ("ops@example.com",)), message_id_domain="router.example")
    call = notice()
    outbox.record_call(call)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    sender = _sender(store, port, clock)
    with capture_logs() as logs:
        assert sender.run_once() == 0
        assert sender.run_once() == 0
    assert [(e["event"], e.get("error")) for e in logs if e["event"].startswith("e911.notify.smtp")
            ] == [("e911.notify.smtp_unreachable", "connection refused by the SMTP server")]
    (delivery,) = outbox.list_deliveries()
    assert (delivery.state, delivery.attempts, delivery.last_error) == (
        DeliveryState.PENDING, 0, None)


def test_release_gives_rows_back_as_they_were_and_only_our_own(store: Store) -> None:
    """Never tried -> pending; tried before -> retrying with its attempts; next_attempt_at
    and a take-over's possible_duplicate kept; a row another sender leases is not touched."""
    outbox = Outbox(with_contacts(store), message_id_domain="router.example")
    t0 = datetime.now(UTC).replace(microsecond=0)
    first, second = notice(), notice()
    outbox.record_call(second, now=t0)
    # `second`'s two rows: one failed once (retrying, attempts 1), one cut after DATA began.
    a, b = outbox.claim_due("s1:1:aa", now=t0 + timedelta(seconds=1), lease=LEASE, limit=4)
    outbox.record_call(first, now=t0)
    assert outbox.mark_retry(a, error="451 busy", next_attempt_at=t0 + timedelta(seconds=2),
                             maybe_accepted=False)
    assert outbox.mark_data_started(b, now=t0 + timedelta(seconds=1))
    # s2 claims all four at t0 + 11 min: b's lease ran out (a take-over, flagged).
    later = t0 + timedelta(minutes=11)
    claims = outbox.claim_due("s2:2:bb", now=later, lease=LEASE, limit=4)
    assert len(claims) == 4
    stolen = Claim(claims[0].delivery, claims[0].notice, "s3:3:cc")  # not s2's: untouched
    assert outbox.release([stolen]) == 0

    assert outbox.release(claims) == 4
    rows = {d.id: d for d in outbox.list_deliveries()}
    got = [(rows[c.delivery.id].state, rows[c.delivery.id].attempts,
            rows[c.delivery.id].last_error, rows[c.delivery.id].possible_duplicate,
            rows[c.delivery.id].next_attempt_at) for c in claims]
    by_id = {c.delivery.id: g for c, g in zip(claims, got, strict=True)}
    assert [by_id[c.delivery.id] for c in claims if c.delivery.call_ref == first.call_ref] == [
        (DeliveryState.PENDING, 0, None, False, t0), (DeliveryState.PENDING, 0, None, False, t0)]
    assert by_id[a.delivery.id] == (
        DeliveryState.RETRYING, 1, "451 busy", False, t0 + timedelta(seconds=2))
    assert by_id[b.delivery.id] == (DeliveryState.RETRYING, 1, None, True, t0)
    assert rows[a.delivery.id].last_attempt_at == later  # the claim's moment, documented
    assert {rows[c.delivery.id].last_attempt_at for c in claims
            if c.delivery.call_ref == first.call_ref} == {None}
    assert outbox.sending_owners() == set()
    assert outbox.release([]) == 0


@dataclass
class EhloCountingHandler(Handler):
    """The tests' handler, also counting EHLOs: one per connection the server saw."""

    ehlos: int = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.ehlos += 1
        session.host_name = hostname
        return responses


def test_one_connection_carries_many_messages_up_to_the_cap(store: Store) -> None:
    """7 deliveries, at most 3 messages a connection: 3 connections (3 + 3 + 1), each sent."""
    outbox = Outbox(with_contacts(store, ("ops@example.com",)), message_id_domain="router.example")
    for _ in range(7):
        outbox.record_call(notice())
    server = SmtpServer()
    server.handler = handler = EhloCountingHandler()
    server.start()
    sessions: list[SmtpSession] = []
    target = SmtpTarget.from_url(server.url)

    def factory() -> SmtpSession:
        sessions.append(SmtpSession(target, timeout=5, messages_per_connection=3))
        return sessions[-1]

    sender = Sender(Outbox(store, message_id_domain="router.example"), factory,
                    SenderConfig(sender_address=SENDER, poll_seconds=0.05))
    try:
        assert sender.run_once() == 7
        received = handler.wait_for(7)
    finally:
        server.stop()
    assert len(received) == 7
    assert [s.connections for s in sessions] == [3]
    assert handler.ehlos == 3
    assert {(d.state, d.attempts) for d in outbox.list_deliveries()} == {(DeliveryState.SENT, 1)}


def _message(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, "ops@example.com", f"m{n}"
    message.set_content(f"message {n}")
    return message


def test_a_reused_connection_the_server_closed_is_replaced_without_a_failure() -> None:
    """The server's idle timeout closes the session's connection (421 4.4.2): the next
    message opens a new one and is sent; no error reaches the delivery."""
    server = SmtpServer(timeout=0.2).start()
    try:
        session = SmtpSession(SmtpTarget.from_url(server.url), timeout=5)
        with session:
            first = session.send(_message(1), sender=SENDER, recipient="ops@example.com",
                                 before_data=lambda: True)
            conn = session._conn
            assert conn is not None and conn.sock is not None
            # The server's 421 and close arrive after its 0.2 s idle timeout: await them.
            readable, _, _ = select.select([conn.sock], [], [], 5)
            assert readable
            second = session.send(_message(2), sender=SENDER, recipient="ops@example.com",
                                  before_data=lambda: True)
            assert session.connections == 2
        got = server.handler.wait_for(2)
    finally:
        server.stop()
    assert (first[:3], second[:3]) == ("250", "250")
    assert [m.message["Subject"] for m in got] == ["m1", "m2"]
