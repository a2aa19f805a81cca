"""The outbox in the store: recording, leasing, take-over and stats (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from router.callref import new_call_ref
from router.notify.model import CallNotifications, Claim, DeliveryState
from router.notify.outbox import Outbox, owner_process
from router.notify.sender import RetryPolicy
from router.processes import process_gone
from router.store.store import Store
from tests.support.flaky_store import CommittedWrites
from tests.support.notices import CONTACTS, notice, with_contacts

LEASE = timedelta(minutes=10)


def _outbox(store: Store) -> Outbox:
    return Outbox(store, message_id_domain="router.example")


def test_record_call_writes_one_pending_delivery_per_contact_in_order(store: Store) -> None:
    """The account's contacts of that moment, pending, attempts 0, distinct Message-IDs."""
    outbox = _outbox(with_contacts(store))
    call = notice()
    assert outbox.record_call(call) is True
    stored = outbox.get_call(call.call_ref)
    assert stored is not None
    assert stored.notice == call
    assert stored.via_spool is False
    assert [(d.position, d.recipient, d.state, d.attempts) for d in stored.deliveries] == [
        (0, CONTACTS[0], DeliveryState.PENDING, 0), (1, CONTACTS[1], DeliveryState.PENDING, 0)]
    ids = [d.message_id for d in stored.deliveries]
    assert len(set(ids)) == 2
    assert all(i.startswith("<dlv_") and i.endswith("@router.example>") for i in ids)
    assert stored.summary() == {"pending": 2, "sending": 0, "sent": 0, "retrying": 0,
                                "failed": 0}


def test_recording_the_same_call_twice_changes_nothing(store: Store) -> None:
    """A spooled copy imported after the direct write (or twice) is a no-op."""
    outbox = _outbox(with_contacts(store))
    call = notice()
    assert outbox.record_call(call) is True
    first = outbox.get_call(call.call_ref)
    assert outbox.record_call(call, via_spool=True) is False
    assert outbox.get_call(call.call_ref) == first


def test_contacts_changed_later_do_not_change_recorded_deliveries(store: Store) -> None:
    """Deliveries are the contacts when the call was placed (the evidence of who was told)."""
    outbox = _outbox(with_contacts(store))
    call = notice()
    outbox.record_call(call)
    store.set_contacts("acct_default", ["new@example.com"])
    stored = outbox.get_call(call.call_ref)
    assert stored is not None
    assert [d.recipient for d in stored.deliveries] == list(CONTACTS)


def test_account_without_contacts_records_the_call_with_no_delivery(store: Store) -> None:
    """The notification row exists (the call is on record) with nothing to send."""
    outbox = _outbox(store)
    call = notice(address_lines=None)
    outbox.record_call(call)
    stored = outbox.get_call(call.call_ref)
    assert stored is not None
    assert stored.deliveries == ()
    assert stored.notice.address_lines is None
    assert stored.as_dict()["location_sent"] is False
    assert outbox.get_call("call_unknown") is None


def _shape(call: CallNotifications | None) -> tuple[Any, ...]:
    """A recorded call without its own ids (call_ref, delivery ids, Message-IDs)."""
    assert call is not None
    return (replace(call.notice, call_ref="-"), call.recorded_at, call.via_spool,
            tuple(replace(d, id="-", call_ref="-", message_id="-") for d in call.deliveries))


def test_record_calls_writes_the_rows_of_one_record_call_each_in_one_transaction(
    store: Store,
) -> None:
    """Two accounts, a call already recorded and one repeated in the batch: one transaction,
    the rows N `record_call`s would write, a flag per notice, idempotent on call_ref."""
    with_contacts(store)
    store.create_account("Other", account_id="acct_other")
    with_contacts(store, ("desk@other.example",), account_id="acct_other")
    outbox = _outbox(store)
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    earlier = notice()
    outbox.record_call(earlier, now=when)
    a, b, c = notice(), notice("acct_other", address_lines=None), notice(language="es")
    with CommittedWrites(store.engine, "notifications") as writes:
        flags = outbox.record_calls([a, earlier, b, a, c], via_spool=True, now=when)
    assert flags == [True, False, True, False, True]
    assert writes.rows == [4]  # one INSERT of a, earlier (skipped: on conflict), b, c
    twins = [replace(n, call_ref=new_call_ref()) for n in (a, b, c)]
    for twin in twins:
        assert outbox.record_call(twin, via_spool=True, now=when) is True
    assert [_shape(outbox.get_call(n.call_ref)) for n in (a, b, c)] == [
        _shape(outbox.get_call(t.call_ref)) for t in twins]
    deliveries = outbox.list_deliveries(limit=1000)
    assert len(deliveries) == 5 * 2 + 2 * 1  # earlier, a, c, their twins: 2; b, its twin: 1
    assert len({d.message_id for d in deliveries}) == len(deliveries)
    assert outbox.record_calls([a, b], now=when) == [False, False]
    assert outbox.record_calls([]) == []


def test_record_calls_that_fails_writes_nothing(store: Store) -> None:
    """A notice the database refuses (NOT NULL language) rolls back the whole batch."""
    outbox = _outbox(with_contacts(store))
    good, bad = notice(), notice(language=None)
    with pytest.raises(sa.exc.IntegrityError):
        outbox.record_calls([good, bad])
    assert outbox.get_call(good.call_ref) is None
    assert outbox.list_deliveries() == []


def test_a_leased_delivery_is_not_claimed_again_until_the_lease_runs_out(store: Store) -> None:
    """Second claimer gets nothing; after the lease a take-over flags a started send."""
    outbox = _outbox(with_contacts(store, ("ops@example.com",)))
    outbox.record_call(notice())
    now = datetime.now(UTC)
    (claim,) = outbox.claim_due("host:1:a", now=now, lease=LEASE)
    assert claim.delivery.state is DeliveryState.SENDING
    assert claim.delivery.attempts == 1
    assert outbox.claim_due("host:2:b", now=now + LEASE - timedelta(seconds=1),
                            lease=LEASE) == []
    assert outbox.mark_data_started(claim, now=now) is True

    (taken,) = outbox.claim_due("host:2:b", now=now + LEASE + timedelta(seconds=1), lease=LEASE)
    assert taken.delivery.id == claim.delivery.id
    assert taken.delivery.attempts == 2
    assert taken.delivery.possible_duplicate is True
    # The first owner lost the row: its late marks change nothing.
    assert outbox.mark_sent(claim, reply="250 late", now=now) is False
    assert outbox.mark_sent(taken, reply="250 OK", now=now) is True
    (delivery,) = outbox.list_deliveries([DeliveryState.SENT])
    assert (delivery.smtp_reply, delivery.possible_duplicate) == ("250 OK", True)


def test_a_take_over_before_any_data_is_not_a_possible_duplicate(store: Store) -> None:
    """A row leased by a dead owner that never started the data is claimed clean."""
    outbox = _outbox(with_contacts(store, ("ops@example.com",)))
    outbox.record_call(notice())
    now = datetime.now(UTC)
    assert len(outbox.claim_due("host:1:a", now=now, lease=LEASE)) == 1
    assert outbox.sending_owners() == {"host:1:a"}
    (taken,) = outbox.claim_due("host:2:b", now=now, lease=LEASE, dead_owners=["host:1:a"])
    assert (taken.delivery.attempts, taken.delivery.possible_duplicate) == (2, False)


def test_concurrent_claims_never_share_a_delivery(store: Store) -> None:
    """Four threads claiming at once get disjoint sets that cover every delivery."""
    outbox = _outbox(with_contacts(store))
    for _ in range(10):
        outbox.record_call(notice())
    now = datetime.now(UTC)
    got: dict[str, list[Claim]] = {}
    barrier = threading.Barrier(4)

    def claim(owner: str) -> None:
        barrier.wait()
        mine: list[Claim] = []
        while batch := outbox.claim_due(owner, now=now, lease=LEASE, limit=3):
            mine += batch
        got[owner] = mine

    threads = [threading.Thread(target=claim, args=(f"host:{i}:x",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [c.delivery.id for claims in got.values() for c in claims]
    assert len(ids) == 20
    assert len(set(ids)) == 20


def test_retry_and_failure_marks_keep_the_error_and_the_schedule(store: Store) -> None:
    """retrying carries next_attempt_at and the error; failed is final; retry_now re-arms."""
    outbox = _outbox(with_contacts(store))
    call = notice()
    outbox.record_call(call)
    now = datetime.now(UTC)
    first, second = outbox.claim_due("host:1:a", now=now, lease=LEASE)
    later = now + timedelta(seconds=30)
    assert outbox.mark_retry(first, error="451 busy", next_attempt_at=later,
                             maybe_accepted=False)
    assert outbox.mark_failed(second, error="550 no such user")
    assert outbox.claim_due("host:1:a", now=now + timedelta(seconds=29), lease=LEASE) == []
    stored = outbox.get_call(call.call_ref)
    assert stored is not None
    retrying, failed = stored.deliveries
    assert (retrying.state, retrying.last_error, retrying.next_attempt_at) == (
        DeliveryState.RETRYING, "451 busy", later)
    assert (failed.state, failed.last_error) == (DeliveryState.FAILED, "550 no such user")
    assert outbox.retry_now(call.call_ref, now=now) == 2
    assert len(outbox.claim_due("host:1:a", now=now, lease=LEASE)) == 2


def test_stats_count_states_and_age_the_oldest_open_delivery(store: Store) -> None:
    """Oldest open = the earliest created delivery not yet sent or failed."""
    outbox = _outbox(with_contacts(store, ("ops@example.com",)))
    start = datetime.now(UTC)
    outbox.record_call(notice(), now=start - timedelta(seconds=90))
    outbox.record_call(notice(), now=start - timedelta(seconds=10))
    stats = outbox.stats()
    assert stats.by_state["pending"] == 2
    assert stats.oldest_open_seconds(start) == pytest.approx(90, abs=0.01)
    first = outbox.claim_due("host:1:a", now=start, lease=LEASE, limit=1)[0]
    outbox.mark_sent(first, reply="250 OK", now=start)
    stats = outbox.stats()
    assert (stats.by_state["sent"], stats.by_state["pending"]) == (1, 1)
    assert stats.oldest_open_seconds(start) == pytest.approx(10, abs=0.01)


def test_retry_delay_doubles_with_jitter_up_to_the_cap() -> None:
    """Attempt n waits between half and all of min(cap, first * 2^(n-1))."""
    policy = RetryPolicy(first_delay_seconds=5, max_delay_seconds=300)
    assert policy.delay(1, 0.0) == timedelta(seconds=2.5)
    assert policy.delay(1, 0.999999) == pytest.approx(timedelta(seconds=5), abs=timedelta(
        milliseconds=1))
    assert policy.delay(3, 0.0) == timedelta(seconds=10)
    assert policy.delay(20, 0.0) == timedelta(seconds=150)
    assert policy.delay(500, 0.5) == timedelta(seconds=225)


def test_owner_ids_name_their_process_and_dead_processes_are_seen() -> None:
    """host:pid:nonce parses; an exited (reaped) child's PID is gone, ours is not."""
    assert owner_process("box-1:4242:ab12") == ("box-1", 4242)
    assert owner_process("nonsense") is None
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_gone(child.pid) is True
    assert process_gone(os.getpid()) is False
