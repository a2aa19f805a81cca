"""`network.changed` events: a device of a user with saved addresses on an unbound network."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy.event as sa_event

from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    Event,
    EventType,
    NewEvent,
    ValidatedAddress,
)
from router.store.store import Store

ACCT = DEFAULT_ACCOUNT_ID
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_network_changed_recorded_once_per_user_and_network_window(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Same user and network: one event in 10 minutes, another after the window passes."""
    store.add_address(ACCT, "1001", address("105"))
    first = store.record_network_seen(ACCT, "1001", "192.0.2.10", now=T0)
    assert first is not None
    assert (first.type, first.sip_user, first.network) == (
        "network.changed", "1001", "192.0.2.10/32"
    )
    assert first.data == {"user": "1001", "network": "192.0.2.10/32", "ip": "192.0.2.10"}

    def seen_after(**delta: float) -> Event | None:
        return store.record_network_seen(ACCT, "1001", "192.0.2.10", now=T0 + timedelta(**delta))

    assert seen_after(minutes=1) is None
    assert seen_after(minutes=9, seconds=59) is None
    later = seen_after(minutes=10, seconds=1)
    assert later is not None
    assert [e.id for e in store.list_events(ACCT)] == [first.id, later.id]


def test_each_new_network_and_each_user_gets_its_own_event(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """The window is per user and per network, not global."""
    store.add_address(ACCT, "1001", address("105"))
    store.add_address(ACCT, "1002", address("107"))
    recorded = [
        store.record_network_seen(ACCT, user, ip, now=T0)
        for user, ip in [("1001", "192.0.2.10"), ("1001", "192.0.2.11"), ("1002", "192.0.2.10")]
    ]
    assert all(e is not None for e in recorded)
    assert [(e.sip_user, e.network) for e in store.list_events(ACCT)] == [
        ("1001", "192.0.2.10/32"), ("1001", "192.0.2.11/32"), ("1002", "192.0.2.10/32"),
    ]


def test_no_event_when_bound_or_without_saved_addresses(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """A bound network, a user with no addresses, or an unknown user produce nothing."""
    home = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", home.id, "192.0.2.10")
    store.upsert_user(ACCT, "1002")
    assert store.record_network_seen(ACCT, "1001", "192.0.2.10", now=T0) is None
    assert store.record_network_seen(ACCT, "1002", "192.0.2.10", now=T0) is None
    assert store.record_network_seen(ACCT, "1003", "192.0.2.10", now=T0) is None
    assert store.list_events(ACCT) == []


def test_events_listed_per_user_after_a_cursor(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """A user's stream holds only their events; after_seq resumes after the last one seen."""
    store.add_address(ACCT, "1001", address("105"))
    store.add_address(ACCT, "1002", address("107"))
    a = store.record_network_seen(ACCT, "1001", "192.0.2.10", now=T0)
    b = store.record_network_seen(ACCT, "1002", "192.0.2.10", now=T0)
    c = store.record_network_seen(ACCT, "1001", "192.0.2.11", now=T0)
    assert a and b and c
    assert [e.id for e in store.list_events(ACCT, sip_user="1001")] == [a.id, c.id]
    assert [e.id for e in store.list_events(ACCT, after_seq=a.seq)] == [b.id, c.id]
    assert [e.id for e in store.list_events(
        ACCT, types=[EventType.NETWORK_CHANGED.value], limit=1)] == [a.id]
    store.create_account("Other", account_id="acct_other")
    assert store.list_events("acct_other") == []


def test_recording_events_does_not_bump_change_seq(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Events are not part of the view: they must not trigger a view rebuild."""
    store.add_address(ACCT, "1001", address("105"))
    seq = store.change_seq()
    store.record_network_seen(ACCT, "1001", "192.0.2.10", now=T0)
    store.record_event(ACCT, "emergency_call.started", {"call_ref": "c1"}, sip_user="1001")
    assert store.change_seq() == seq
    assert [e.type for e in store.list_events(ACCT)] == ["network.changed",
                                                         "emergency_call.started"]


def test_concurrent_sightings_of_one_device_write_one_event(
    open_another: Callable[..., Store], address: Callable[..., ValidatedAddress]
) -> None:
    """Eight threads on two store handles (two "hosts") report the same device at once."""
    hosts = [open_another(), open_another()]
    hosts[0].add_address(ACCT, "1001", address("105"))
    barrier = threading.Barrier(8)

    def sighting(i: int) -> bool:
        barrier.wait()
        return hosts[i % 2].record_network_seen(ACCT, "1001", "192.0.2.10", now=T0) is not None

    with ThreadPoolExecutor(8) as pool:
        recorded = list(pool.map(sighting, range(8)))
    assert recorded.count(True) == 1
    assert len(hosts[1].list_events(ACCT)) == 1


def test_concurrent_writers_all_succeed(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Writers on several threads (API requests) never fail with a lock error."""
    def save_and_bind(i: int) -> str:
        saved = store.add_address(ACCT, f"u{i % 4}", address(str(100 + i)))
        store.bind(ACCT, f"u{i % 4}", saved.id, f"192.0.2.{i}")
        return saved.id

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(save_and_bind, range(40)))
    assert len(set(ids)) == 40
    assert sum(len(store.bindings_for_user(ACCT, f"u{u}")) for u in range(4)) == 40
    assert store.change_seq() == 80  # one bump per add and per bind


def test_record_events_appends_a_batch_in_order_in_one_transaction(store: Store) -> None:
    """`record_events`: the same events `record_event` would write, consecutive seqs, one
    commit (a batch of 911 notices' `emergency_call.started`)."""
    commits: list[int] = []

    def counted(_conn: object) -> None:
        commits.append(1)

    sa_event.listen(store.engine, "commit", counted)
    try:
        written = store.record_events([
            NewEvent(ACCT, EventType.EMERGENCY_CALL_STARTED.value, {"call_ref": f"call_{n}"},
                     sip_user="1001") for n in range(5)], now=T0)
    finally:
        sa_event.remove(store.engine, "commit", counted)
    assert len(commits) == 1
    assert [e.seq for e in written] == list(range(written[0].seq, written[0].seq + 5))
    stored = store.list_events(ACCT, after_seq=written[0].seq - 1)
    assert [(e.id, e.type, e.sip_user, e.data, e.created_at) for e in stored] == [
        (e.id, "emergency_call.started", "1001", {"call_ref": f"call_{n}"}, T0)
        for n, e in enumerate(written)]
    assert store.record_events([]) == []


def test_the_change_seq_reader_sees_every_commit_of_another_connection(
    store: Store, open_another: Callable[..., Store], address: Callable[..., ValidatedAddress]
) -> None:
    """Issue 19: the front's cheap probe (autocommit, one fixed statement) reads what
    `change_seq()` reads, and a write committed elsewhere is visible at the next read (no
    transaction held open between reads)."""
    from router.db import schema
    from router.store.events import ChangeSeqReader

    assert ChangeSeqReader.SQL.split()[-1] == schema.change_seq.name
    reader = store.change_seq_reader()
    writer = open_another()
    try:
        assert reader() == store.change_seq()
        for house in ("105", "107", "109"):
            writer.add_address(ACCT, "1001", address(house))
            assert reader() == writer.change_seq()
    finally:
        reader.close()
