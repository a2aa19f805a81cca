"""Two notification senders on one PostgreSQL outbox (two router hosts) and one real SMTP
server: every delivery is claimed by exactly one of them, so each contact gets exactly one
e-mail a call, also when both poll at the same instant. The claim is `SELECT ... FOR UPDATE
SKIP LOCKED` then an UPDATE in the same transaction (router/notify/outbox.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from router.db import schema
from router.notify.model import DeliveryState
from router.notify.outbox import Outbox
from router.notify.sender import Sender, SenderConfig
from router.notify.smtp import SmtpSession, SmtpTarget
from router.store.store import Store, open_store
from tests.support.notices import CONTACTS, FAST_RETRY, SENDER, notice, with_contacts
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.postgres

CALLS = 20
ROUNDS = 3


@pytest.fixture
def pg_store(pg_schema_url: str) -> Iterator[Store]:
    opened = open_store(pg_schema_url)
    yield opened
    opened.close()


def _sender(store: Store, url: str) -> Sender:
    """A sender of its own (own owner id), claiming 2 rows at a time so the two interleave."""
    target = SmtpTarget.from_url(url)
    return Sender(Outbox(store, message_id_domain="router.example"),
                  lambda: SmtpSession(target, timeout=5),
                  SenderConfig(sender_address=SENDER, retry=FAST_RETRY, batch=2,
                               poll_seconds=0.05))


def test_two_senders_polling_at_once_send_each_delivery_exactly_once(
    pg_schema_url: str, smtp_server: SmtpServer
) -> None:
    """Three rounds of 20 calls x 2 contacts; in each, both senders (each on its own store
    connection pool, like two hosts) start claiming at the same instant: 120 messages, one per
    delivery, every delivery sent on its first attempt, and both senders took part."""
    stores = [open_store(pg_schema_url), open_store(pg_schema_url, migrate=False)]
    try:
        outbox = Outbox(with_contacts(stores[0]), message_id_domain="router.example")
        senders = [_sender(s, smtp_server.url) for s in stores]
        handled: Counter[str] = Counter()
        refs: list[str] = []
        for _ in range(ROUNDS):
            calls = [notice() for _ in range(CALLS)]
            for call in calls:
                assert outbox.record_call(call) is True
            refs += [c.call_ref for c in calls]
            start = threading.Barrier(len(senders))

            def drain(sender: Sender, start: threading.Barrier) -> None:
                start.wait(10)
                handled[sender.owner] += sender.run_once()

            threads = [threading.Thread(target=drain, args=(s, start)) for s in senders]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
                assert not thread.is_alive()
        got = smtp_server.handler.wait_for(ROUNDS * CALLS * len(CONTACTS))
        assert len(smtp_server.handler.received) == ROUNDS * CALLS * len(CONTACTS)
        assert sorted((str(r.message["X-E911-Call-Ref"]), r.rcpt_tos) for r in got) == sorted(
            (ref, (contact,)) for ref in refs for contact in CONTACTS)
        assert sum(handled.values()) == ROUNDS * CALLS * len(CONTACTS)
        assert sorted(handled) == sorted(s.owner for s in senders)  # both sent some
        for ref in refs:
            stored = outbox.get_call(ref)
            assert stored is not None
            assert [(d.state, d.attempts, d.possible_duplicate) for d in stored.deliveries] == [
                (DeliveryState.SENT, 1, False)] * len(CONTACTS)
    finally:
        for store in stores:
            store.close()


def test_a_claim_skips_rows_another_sender_holds_instead_of_waiting(pg_store: Store) -> None:
    """While another transaction holds the due rows locked (a sender mid-claim), a claim
    returns nothing at once; after that transaction ends, the rows are claimable."""
    outbox = Outbox(with_contacts(pg_store))
    call = notice()
    outbox.record_call(call)
    now = datetime.now(UTC)
    deliveries = schema.notification_deliveries
    claimed: list[int] = []
    with pg_store.engine.connect() as holder, holder.begin():
        locked = holder.execute(sa.select(deliveries.c.id).with_for_update()).all()
        assert len(locked) == len(CONTACTS)
        worker = threading.Thread(target=lambda: claimed.append(len(outbox.claim_due(
            "other-host", now=now, lease=timedelta(minutes=10)))))
        started = time.monotonic()
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "the claim waited for the other transaction's locks"
        assert time.monotonic() - started < 5
        assert claimed == [0]
    again = outbox.claim_due("other-host", now=now, lease=timedelta(minutes=10))
    assert sorted(c.delivery.recipient for c in again) == sorted(CONTACTS)
