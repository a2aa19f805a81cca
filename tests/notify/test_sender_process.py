"""`e911-router notify sender` as a real process, killed with SIGKILL by PID and restarted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from router.notify.model import Delivery, DeliveryState
from router.notify.outbox import Outbox
from router.store.store import Store
from tests.support.notices import notice, with_contacts
from tests.support.sender_process import SenderProcess, spawn_sender
from tests.support.smtp_server import SmtpServer


@pytest.fixture
def start_sender(store_url: str, smtp_server: SmtpServer,
                 tmp_path: Path) -> Iterator[Callable[[], SenderProcess]]:
    started: list[SenderProcess] = []

    def start() -> SenderProcess:
        process = spawn_sender(store_url, smtp_server.url, tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _delivery(store: Store, call_ref: str) -> Delivery:
    call = Outbox(store).get_call(call_ref)
    assert call is not None
    (delivery,) = call.deliveries
    return delivery


def _wait_state(store: Store, call_ref: str, state: DeliveryState, timeout: float = 15.0
                ) -> None:
    """Until every delivery of the call is in `state` (the store has no change feed)."""
    deadline = time.monotonic() + timeout
    while True:
        call = Outbox(store).get_call(call_ref)
        assert call is not None
        if all(d.state is state for d in call.deliveries):
            return
        assert time.monotonic() < deadline, f"{call_ref} never became {state}"
        time.sleep(0.05)


def test_pending_notifications_are_sent_after_a_sigkill_and_sent_ones_are_not_repeated(
    store: Store, smtp_server: SmtpServer, start_sender: Callable[[], SenderProcess]
) -> None:
    """Killed idle with sent rows; calls recorded while down are sent once after restart."""
    outbox = Outbox(with_contacts(store))
    first = start_sender()
    sent_before = notice()
    outbox.record_call(sent_before)
    smtp_server.handler.wait_for(2)
    _wait_state(store, sent_before.call_ref, DeliveryState.SENT)  # recorded, not just sent
    first.kill()

    waiting = [notice(), notice()]
    for call in waiting:
        outbox.record_call(call)
    start_sender()
    smtp_server.handler.wait_for(6)
    # One more call after the backlog: anything resent would have been claimed before it.
    last = notice()
    outbox.record_call(last)
    got = smtp_server.handler.wait_for(8)

    per_call: dict[str, int] = {}
    for received in got:
        ref = str(received.message["X-E911-Call-Ref"])
        per_call[ref] = per_call.get(ref, 0) + 1
    assert per_call == {c.call_ref: 2 for c in [sent_before, *waiting, last]}
    assert len(got) == 8
    assert len({str(r.message["Message-ID"]) for r in got}) == 8


def test_killed_before_the_data_is_sent_exactly_once_after_restart(
    store: Store, smtp_server: SmtpServer, start_sender: Callable[[], SenderProcess]
) -> None:
    """SIGKILL while the server holds RCPT: the row stays `sending`; the next sender takes
    it over at once (dead PID) and the contact gets one message, not flagged."""
    outbox = Outbox(with_contacts(store, ("ops@example.com",)))
    smtp_server.handler.hold_rcpt = threading.Event()
    first = start_sender()
    call = notice()
    outbox.record_call(call)
    assert smtp_server.handler.at_rcpt.wait(15)
    first.kill()
    assert _delivery(store, call.call_ref).state is DeliveryState.SENDING
    smtp_server.handler.hold_rcpt.set()

    start_sender()
    (received,) = smtp_server.handler.wait_for(1)
    _wait_state(store, call.call_ref, DeliveryState.SENT)
    delivery = _delivery(store, call.call_ref)
    assert delivery.attempts == 2
    assert delivery.possible_duplicate is False
    assert received.message["Message-ID"] == delivery.message_id
    follow = notice()
    outbox.record_call(follow)
    got = smtp_server.handler.wait_for(2)
    assert [str(r.message["X-E911-Call-Ref"]) for r in got] == [call.call_ref,
                                                                 follow.call_ref]


def test_killed_after_the_final_dot_resends_with_the_same_message_id_and_says_so(
    store: Store, smtp_server: SmtpServer, start_sender: Callable[[], SenderProcess]
) -> None:
    """SIGKILL after the server has the message but before the sender recorded it: the
    honest outcome is a second copy, same Message-ID, the row marked possible_duplicate."""
    outbox = Outbox(with_contacts(store, ("ops@example.com",)))
    smtp_server.handler.hold_data = threading.Event()
    first = start_sender()
    call = notice()
    outbox.record_call(call)
    assert smtp_server.handler.at_data.wait(15)
    first.kill()
    smtp_server.handler.hold_data.set()

    second = start_sender()
    got = smtp_server.handler.wait_for(2)
    _wait_state(store, call.call_ref, DeliveryState.SENT)
    delivery = _delivery(store, call.call_ref)
    assert delivery.possible_duplicate is True
    assert delivery.attempts == 2
    assert [r.message["Message-ID"] for r in got] == [delivery.message_id] * 2
    assert second.wait_event("e911.notify.possible_duplicate")["call_ref"] == call.call_ref
