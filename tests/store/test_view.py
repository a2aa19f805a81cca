"""The in-memory LocationView the SIP thread reads."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    Callback,
    CallbackPreference,
    CallerContext,
    Located,
    LocationSource,
    Unlocated,
    UnlocatedReason,
    ValidatedAddress,
)
from router.location.view import LocationView
from router.store.store import Store

ACCT = DEFAULT_ACCOUNT_ID
HOME_IP = "198.51.100.20"


@pytest.fixture
def view(store: Store) -> Iterator[LocationView]:
    """A view on the test store, refreshed by hand (no poller thread)."""
    v = LocationView(store)
    yield v
    v.stop()


def test_view_not_loaded_answers_not_loaded(view: LocationView) -> None:
    """Before the first refresh every lookup is Unlocated(not_loaded), never an error."""
    assert view.locate(ACCT, "1001", HOME_IP) == Unlocated(UnlocatedReason.NOT_LOADED)
    assert view.caller_context(ACCT, "1001") == CallerContext(loaded=False)
    assert view.loaded is False


def test_refresh_picks_up_changes_only_when_change_seq_moves(
    store: Store, view: LocationView, address: Callable[..., ValidatedAddress]
) -> None:
    """A bind shows up after refresh(); a refresh with nothing changed swaps nothing."""
    assert view.refresh() is True
    assert view.refresh() is False
    home = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", home.id, HOME_IP)
    assert view.locate(ACCT, "1001", HOME_IP) == Unlocated(UnlocatedReason.UNKNOWN_USER)
    assert view.refresh() is True
    found = view.locate(ACCT, "1001", HOME_IP)
    assert isinstance(found, Located)
    assert (found.address_id, found.source, found.civic) == (
        home.id, LocationSource.BINDING, address("105").civic
    )
    store.clear_binding(ACCT, "1001", home.id)
    view.refresh()
    assert view.locate(ACCT, "1001", HOME_IP) == Unlocated(UnlocatedReason.NO_BINDING)


def test_view_answers_like_the_store(
    store: Store, view: LocationView, address: Callable[..., ValidatedAddress]
) -> None:
    """Bindings, v6 grouping, nested admin networks, unknown users: same answers both ways."""
    home = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", home.id, HOME_IP)
    v6 = store.add_address(ACCT, "1001", address("107"))
    store.bind(ACCT, "1001", v6.id, "2001:db8:1:2::10")
    store.add_network(ACCT, "10.0.0.0/8", address=address("1"))
    store.add_network(ACCT, "10.1.2.0/24", address=address("2"))
    store.add_network(ACCT, "198.51.100.0/24", address=address("3"))
    store.add_network(ACCT, "2001:db8::/32", address=address("4"))
    store.upsert_user(ACCT, "1002")
    view.refresh()
    probes = [
        ("1001", HOME_IP), ("1001", "198.51.100.21"), ("1001", "2001:db8:1:2::99"),
        ("1001", "2001:db8:9::1"), ("1001", "10.1.2.3"), ("1001", "10.200.0.1"),
        ("1001", "192.0.2.1"), ("1002", HOME_IP), ("1002", "192.0.2.1"), ("9999", "192.0.2.1"),
        ("1001", "not-an-ip"), ("1001", f"::ffff:{HOME_IP}"),
    ]
    for user, ip in probes:
        assert view.locate(ACCT, user, ip) == store.locate(ACCT, user, ip), (user, ip)
    assert view.locate("acct_nope", "1001", "192.0.2.1") == Unlocated(
        UnlocatedReason.UNKNOWN_ACCOUNT
    )


def test_locate_never_raises(view: LocationView) -> None:
    """Garbage from a misconfigured PBX header yields Unlocated, not an exception."""
    view.refresh()
    assert view.locate(ACCT, "1001", None) == Unlocated(  # type: ignore[arg-type]
        UnlocatedReason.INVALID_IP
    )
    assert view.locate(None, None, "192.0.2.1") == Unlocated(  # type: ignore[arg-type]
        UnlocatedReason.UNKNOWN_ACCOUNT
    )
    assert view.locate(ACCT, "1001", ["x"]) == Unlocated(  # type: ignore[arg-type]
        UnlocatedReason.INVALID_IP
    )
    assert view.locate(ACCT, "1001", "[::1") == Unlocated(UnlocatedReason.INVALID_IP)
    assert view.locate(["x"], "1001", "192.0.2.1") == Unlocated(  # type: ignore[arg-type]
        UnlocatedReason.ERROR
    )


def test_caller_context_carries_what_the_call_plan_needs(
    store: Store, view: LocationView, address: Callable[..., ValidatedAddress]
) -> None:
    """Account enablement and callback, user callback and preference, contacts count."""
    account_cb = Callback(display_name="Acme HQ", number="+14065550100", language="en")
    store.update_account(default_address=address("1"), callback=account_cb)
    store.set_contacts(ACCT, ["ops@example.com", "sec@example.com"])
    store.update_account(enabled=True)
    store.upsert_user(ACCT, "1001", display_name="Ana Diaz", callback_number="+14065550111",
                      language="es", callback_preference=CallbackPreference.OWN)
    store.upsert_user(ACCT, "1002", display_name="Bo")
    view.refresh()
    ana = view.caller_context(ACCT, "1001")
    assert (ana.account_enabled, ana.contacts_count, ana.account_callback) == (
        True, 2, account_cb
    )
    assert (ana.user_display_name, ana.callback_number, ana.language) == (
        "Ana Diaz", "+14065550111", "es"
    )
    bo = view.caller_context(ACCT, "1002")
    assert (bo.callback_number, bo.language, bo.display_name) == ("+14065550100", "en", "Bo")
    nobody = view.caller_context(ACCT, "7777")
    assert (nobody.loaded, nobody.user_known, nobody.callback_number) == (
        True, False, "+14065550100"
    )
    assert view.caller_context("acct_nope", "1").account_known is False


def test_background_thread_picks_up_a_change(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """With the poller running, a new binding is visible once its change_seq is loaded."""
    with LocationView(store, poll_interval_seconds=0.05) as view:
        assert view.wait_for_seq(0, timeout=10)
        home = store.add_address(ACCT, "1001", address("105"))
        store.bind(ACCT, "1001", home.id, HOME_IP)
        assert view.wait_for_seq(store.change_seq(), timeout=10)
        found = view.locate(ACCT, "1001", HOME_IP)
        assert isinstance(found, Located) and found.address_id == home.id


def test_unlocated_lookup_records_network_changed_off_the_sip_thread(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """A user with saved addresses seen on an unbound network gets one network.changed."""
    home = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", home.id, HOME_IP)
    store.upsert_user(ACCT, "1002")
    view = LocationView(store, poll_interval_seconds=0.05).start()
    try:
        assert view.wait_for_seq(store.change_seq(), timeout=10)
        for _ in range(5):
            assert view.locate(ACCT, "1001", "192.0.2.50") == Unlocated(
                UnlocatedReason.NO_BINDING
            )
        assert isinstance(view.locate(ACCT, "1001", HOME_IP), Located)
        view.locate(ACCT, "1002", "192.0.2.50")  # no saved addresses: no event
    finally:
        view.stop()  # drains the queue: every sighting is written before stop returns
    events = store.list_events(ACCT)
    assert [(e.type, e.sip_user, e.network) for e in events] == [
        ("network.changed", "1001", "192.0.2.50/32")
    ]


def test_store_failure_keeps_the_last_snapshot(
    store: Store, view: LocationView, address: Callable[..., ValidatedAddress]
) -> None:
    """When the database stops answering, lookups keep using the snapshot in memory."""
    home = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", home.id, HOME_IP)
    view.refresh()
    loaded_seq = view.seq
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE change_seq"))
    with pytest.raises(sa.exc.DBAPIError):
        view.refresh()
    assert view.seq == loaded_seq
    found = view.locate(ACCT, "1001", HOME_IP)
    assert isinstance(found, Located) and found.address_id == home.id


def test_rebuild_reuses_unchanged_bindings_and_follows_moves(
    store: Store, view: LocationView, address: Callable[..., ValidatedAddress]
) -> None:
    """An unchanged binding keeps its object across rebuilds; a moved one answers anew."""
    home = store.add_address(ACCT, "1001", address("105"))
    office = store.add_address(ACCT, "1001", address("201"))
    store.bind(ACCT, "1001", home.id, HOME_IP)
    store.bind(ACCT, "1001", office.id, "203.0.113.7")
    view.refresh()
    home_before = view.locate(ACCT, "1001", HOME_IP)
    store.bind(ACCT, "1001", office.id, "203.0.113.8")
    lab = store.add_address(ACCT, "1002", address("300"))
    store.bind(ACCT, "1002", lab.id, "2001:db8:7::1")
    view.refresh()
    assert view.locate(ACCT, "1001", HOME_IP) is home_before
    assert view.locate(ACCT, "1001", "203.0.113.7") == Unlocated(UnlocatedReason.NO_BINDING)
    moved = view.locate(ACCT, "1001", "203.0.113.8")
    assert isinstance(moved, Located)
    assert (moved.address_id, moved.network, moved.civic) == (
        office.id, "203.0.113.8/32", address("201").civic
    )
    new = view.locate(ACCT, "1002", "2001:db8:7::99")
    assert isinstance(new, Located) and new.address_id == lab.id


def test_incremental_refresh_matches_a_full_load(
    store: Store, view: LocationView, address: Callable[..., ValidatedAddress]
) -> None:
    """After a random mix of changes, the patched snapshot answers like a fresh full load."""
    rng = random.Random(4119)
    ips = [f"192.0.2.{i}" for i in range(1, 7)] + ["2001:db8:1::5", "10.1.2.3", "10.9.9.9"]
    users = ["1001", "1002", "1003"]
    store.add_network(ACCT, "10.0.0.0/8", address=address("1"))
    store.create_account("Other", account_id="acct_other")
    view.refresh()
    saved: dict[str, list[str]] = {u: [] for u in users}
    networks: list[str] = []
    for step in range(60):
        user = rng.choice(users)
        action = rng.choice(["add", "bind", "bind", "clear", "delete", "user", "net", "acct"])
        if action == "add" or not saved[user]:
            saved[user].append(store.add_address(ACCT, user, address(str(100 + step))).id)
        elif action == "bind":
            store.bind(ACCT, user, rng.choice(saved[user]), rng.choice(ips))
        elif action == "clear":
            store.clear_binding(ACCT, user, rng.choice(saved[user]))
        elif action == "delete":
            store.delete_address(ACCT, user, saved[user].pop(rng.randrange(len(saved[user]))))
        elif action == "user":
            store.upsert_user(ACCT, user, display_name=f"name {step}", language="fr")
        elif action == "net" and networks:
            store.delete_network(ACCT, networks.pop())
        elif action == "net":
            networks.append(store.add_network(ACCT, "10.1.2.0/24", address=address("2")).id)
        else:
            store.update_account(ACCT, language=rng.choice(["en", "es"]))
        if step % 3 == 0:
            assert view.refresh() is True
    view.refresh()
    assert (view.full_loads, view.incremental_loads) == (1, 21)
    fresh = LocationView(store)
    fresh.refresh()
    for user in [*users, "9999"]:
        for ip in ips:
            assert view.locate(ACCT, user, ip) == fresh.locate(ACCT, user, ip), (user, ip)
        assert view.caller_context(ACCT, user) == fresh.caller_context(ACCT, user)
    ours, theirs = view.snapshot, fresh.snapshot
    assert ours is not None and theirs is not None
    assert (dict(ours.bindings), dict(ours.users), ours.users_with_addresses) == (
        dict(theirs.bindings), dict(theirs.users), theirs.users_with_addresses
    )
    assert dict(ours.networks) == dict(theirs.networks)


def test_pruned_change_log_falls_back_to_a_full_load(
    store: Store, view: LocationView, address: Callable[..., ValidatedAddress]
) -> None:
    """When the log no longer covers the view's seq, the view reloads everything."""
    view.refresh()
    seq = view.seq
    home = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", home.id, HOME_IP)
    assert seq is not None
    assert store.load_view_changes(seq) is not None
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM change_log"))
    assert store.load_view_changes(seq) is None
    assert view.refresh() is True
    found = view.locate(ACCT, "1001", HOME_IP)
    assert isinstance(found, Located) and found.address_id == home.id
