"""Devices seen when they register (issue 17): `Store.record_registration` on both engines.

One rule with the call path (`record_network_seen`): a device arriving on a network with no
binding raises `network.changed` once; a re-registration is silent; a known network re-binds
silently."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from router.db import schema
from router.location.model import DEFAULT_ACCOUNT_ID, Event, Located, ValidatedAddress
from router.store.store import Store

ACCT = DEFAULT_ACCOUNT_ID
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PHONE = "sip:1001@10.0.0.5:5060"


def register(store: Store, ip: str, *, after: timedelta = timedelta(0), contact: str = PHONE,
             expires: int = 3600, user: str = "1001", registered: bool = True
             ) -> Event | None:
    return store.record_registration(ACCT, user, ip, contact=contact, registered=registered,
                                     expires_seconds=expires, now=T0 + after)


def test_registration_on_an_unbound_network_raises_network_changed_once(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """The first REGISTER raises the event; re-REGISTERs every 30 min for 6 h (far past the
    10-minute window) are silent while the registration lasts."""
    store.add_address(ACCT, "1001", address("105"))
    first = register(store, "192.0.2.10")
    assert first is not None
    assert (first.type, first.sip_user, first.network, first.data) == (
        "network.changed", "1001", "192.0.2.10/32",
        {"user": "1001", "network": "192.0.2.10/32", "ip": "192.0.2.10"})
    for half_hours in range(1, 13):
        assert register(store, "192.0.2.10", after=timedelta(minutes=30 * half_hours)) is None
    assert [e.id for e in store.list_events(ACCT)] == [first.id]


def test_registration_on_a_known_network_rebinds_silently(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Home is bound; the device registers away (one event), then back home: silent, and the
    home address applies again."""
    home = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", home.id, "192.0.2.10")
    assert register(store, "192.0.2.10") is None
    away = register(store, "198.51.100.20", after=timedelta(minutes=1))
    assert away is not None and away.network == "198.51.100.20/32"
    assert register(store, "192.0.2.10", after=timedelta(minutes=2)) is None
    located = store.locate(ACCT, "1001", "192.0.2.10")
    assert isinstance(located, Located) and located.address_id == home.id
    assert [e.network for e in store.list_events(ACCT)] == ["198.51.100.20/32"]


def test_arrival_after_the_registration_ended_is_seen_again(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """After an unregistration, or once the registration expired, the device connecting again
    from the unbound network is a new arrival (outside the 10-minute window)."""
    store.add_address(ACCT, "1001", address("105"))
    assert register(store, "192.0.2.10", expires=600) is not None
    assert register(store, "192.0.2.10", after=timedelta(minutes=5), registered=False) is None
    assert register(store, "192.0.2.10", after=timedelta(minutes=20)) is not None
    # This one expires at +30 min unrefreshed; the next REGISTER at +45 min is an arrival.
    assert register(store, "192.0.2.10", after=timedelta(minutes=25), expires=300) is None
    assert register(store, "192.0.2.10", after=timedelta(minutes=45)) is not None
    assert len(store.list_events(ACCT)) == 3


def test_call_and_registration_share_one_window(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """A call sighting then a registration on the same network a minute later: one event."""
    store.add_address(ACCT, "1001", address("105"))
    assert store.record_network_seen(ACCT, "1001", "192.0.2.10", now=T0) is not None
    assert register(store, "192.0.2.10", after=timedelta(minutes=1)) is None
    assert len(store.list_events(ACCT)) == 1


def test_second_device_on_a_network_already_registered_is_silent(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """A desk phone and a softphone of one user on one network: one event, not two."""
    store.add_address(ACCT, "1001", address("105"))
    assert register(store, "192.0.2.10") is not None
    assert register(store, "192.0.2.10", after=timedelta(minutes=20),
                    contact="sip:1001@10.0.0.6") is None
    assert len(store.list_events(ACCT)) == 1


def test_unknown_user_or_user_without_addresses_keeps_nothing(store: Store) -> None:
    """A user the store does not know leaves no row; one without addresses gets no event."""
    assert register(store, "192.0.2.10", user="4242") is None
    store.upsert_user(ACCT, "1002")
    assert register(store, "192.0.2.10", user="1002") is None
    assert store.list_events(ACCT) == []
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.registrations.c.sip_user)).scalars().all()
    assert rows == ["1002"]
