"""Network bindings and admin networks, through the store's own lookup (`Store.locate`)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from router.db import schema
from router.db.errors import Conflict, InvalidValue, NotFound
from router.location.bindings import (
    BindPrefixes,
    address_hex,
    network_key,
    network_key_of,
    network_range_hex,
    parse_cidr,
    parse_ip,
)
from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    Located,
    LocationSource,
    Unlocated,
    UnlocatedReason,
    ValidatedAddress,
)
from router.store.store import Store

ACCT = DEFAULT_ACCOUNT_ID
HOME_IP = "198.51.100.20"
OFFICE_IP = "203.0.113.7"


def located_id(store: Store, user: str, ip: str) -> str | None:
    found = store.locate(ACCT, user, ip)
    return found.address_id if isinstance(found, Located) else None


def test_binding_applies_only_on_its_network(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Bound at home: located at home, unlocated anywhere else."""
    home = store.add_address(ACCT, "1001", address("105"), label="home")
    binding = store.bind(ACCT, "1001", home.id, HOME_IP)
    assert (binding.network, binding.registered_ip) == ("198.51.100.20/32", HOME_IP)
    found = store.locate(ACCT, "1001", HOME_IP)
    assert isinstance(found, Located)
    assert (found.address_id, found.source, found.esn) == (home.id, LocationSource.BINDING, "00100")
    assert found.civic == address("105").civic
    assert store.locate(ACCT, "1001", OFFICE_IP) == Unlocated(UnlocatedReason.NO_BINDING)
    assert store.get_address(ACCT, "1001", home.id).binding == binding


def test_saved_binding_reapplies_when_the_device_returns(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Home and office both bound: each applies again whenever the device is back there."""
    home = store.add_address(ACCT, "1001", address("105"), label="home")
    office = store.add_address(ACCT, "1001", address("201"), label="office")
    store.bind(ACCT, "1001", home.id, HOME_IP)
    store.bind(ACCT, "1001", office.id, OFFICE_IP)
    sequence = [HOME_IP, OFFICE_IP, "192.0.2.99", HOME_IP, OFFICE_IP]
    assert [located_id(store, "1001", ip) for ip in sequence] == [
        home.id, office.id, None, home.id, office.id,
    ]
    assert {b.address_id for b in store.bindings_for_user(ACCT, "1001")} == {home.id, office.id}


def test_clearing_a_binding_is_explicit(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """clear_binding drops it (the address stays saved); clearing again reports False."""
    home = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", home.id, HOME_IP)
    assert store.clear_binding(ACCT, "1001", home.id) is True
    assert store.clear_binding(ACCT, "1001", home.id) is False
    assert located_id(store, "1001", HOME_IP) is None
    assert store.get_address(ACCT, "1001", home.id).binding is None


def test_deleting_an_address_removes_its_bindings(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """No binding row outlives its address."""
    home = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", home.id, HOME_IP)
    store.delete_address(ACCT, "1001", home.id)
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(schema.bindings)) == 0
    assert located_id(store, "1001", HOME_IP) is None


def test_binding_again_moves_the_address_to_the_new_network(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """An address has one registered network (PUT registered-ip replaces it)."""
    home = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", home.id, HOME_IP)
    store.bind(ACCT, "1001", home.id, "198.51.100.21")
    assert located_id(store, "1001", "198.51.100.21") == home.id
    assert located_id(store, "1001", HOME_IP) is None


def test_one_address_per_user_and_network(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Binding a second address on the same network unbinds the first there."""
    first = store.add_address(ACCT, "1001", address("105"))
    second = store.add_address(ACCT, "1001", address("107"))
    store.bind(ACCT, "1001", first.id, HOME_IP)
    store.bind(ACCT, "1001", second.id, HOME_IP)
    assert located_id(store, "1001", HOME_IP) == second.id
    assert store.get_address(ACCT, "1001", first.id).binding is None


def test_default_grouping_is_v4_slash_32_and_v6_slash_64(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """IPv4 binds the exact address; IPv6 binds the /64 LAN (another host there matches)."""
    v4 = store.add_address(ACCT, "1001", address("105"))
    v6 = store.add_address(ACCT, "1001", address("107"))
    assert store.bind(ACCT, "1001", v4.id, "198.51.100.20").network == "198.51.100.20/32"
    assert store.bind(ACCT, "1001", v6.id, "2001:db8:1:2::10").network == "2001:db8:1:2::/64"
    assert located_id(store, "1001", "198.51.100.21") is None
    assert located_id(store, "1001", "2001:db8:1:2:aaaa::1") == v6.id
    assert located_id(store, "1001", "2001:db8:1:3::10") is None


def test_grouping_prefixes_are_configurable(
    open_another: Callable[..., Store], address: Callable[..., ValidatedAddress]
) -> None:
    """With /24 and /48, the whole IPv4 /24 and IPv6 /48 share the binding."""
    store = open_another(BindPrefixes(v4=24, v6=48))
    v4 = store.add_address(ACCT, "1001", address("105"))
    v6 = store.add_address(ACCT, "1001", address("107"))
    assert store.bind(ACCT, "1001", v4.id, "198.51.100.20").network == "198.51.100.0/24"
    assert store.bind(ACCT, "1001", v6.id, "2001:db8:1:2::10").network == "2001:db8:1::/48"
    assert located_id(store, "1001", "198.51.100.250") == v4.id
    assert located_id(store, "1001", "198.51.101.1") is None
    assert located_id(store, "1001", "2001:db8:1:ffff::1") == v6.id


def test_ipv4_mapped_ipv6_is_the_ipv4_network(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """A dual-stack socket's ::ffff:a.b.c.d is the same device network as a.b.c.d."""
    home = store.add_address(ACCT, "1001", address("105"))
    assert store.bind(ACCT, "1001", home.id, f"::ffff:{HOME_IP}").network == f"{HOME_IP}/32"
    assert located_id(store, "1001", HOME_IP) == home.id
    assert located_id(store, "1001", f"::ffff:{HOME_IP}") == home.id


def test_bind_refuses_what_is_not_an_ip(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """A malformed IP is an InvalidValue naming the field, and nothing is bound."""
    home = store.add_address(ACCT, "1001", address("105"))
    with pytest.raises(InvalidValue) as bad:
        store.bind(ACCT, "1001", home.id, "198.51.100.300")
    assert bad.value.field == "ip"
    assert store.bindings_for_user(ACCT, "1001") == []
    assert store.locate(ACCT, "1001", "nonsense") == Unlocated(UnlocatedReason.INVALID_IP)


def test_admin_network_most_specific_wins(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """/8 building-wide, /24 floor, /28 room: the longest prefix containing the IP applies."""
    wide = store.add_network(ACCT, "10.0.0.0/8", address=address("1"), label="campus")
    floor = store.add_network(ACCT, "10.1.2.0/24", address=address("2"), label="floor 2")
    room = store.add_network(ACCT, "10.1.2.16/28", address=address("3"), label="room 201")

    def via(ip: str) -> str | None:
        found = store.locate(ACCT, "2001", ip)
        assert found == Unlocated(UnlocatedReason.UNKNOWN_USER) or isinstance(found, Located)
        return found.network_id if isinstance(found, Located) else None

    assert via("10.1.2.20") == room.id
    assert via("10.1.2.40") == floor.id
    assert via("10.9.9.9") == wide.id
    assert via("192.0.2.1") is None
    found = store.locate(ACCT, "2001", "10.1.2.20")
    assert isinstance(found, Located)
    assert (found.source, found.address_id, found.msag_id) == (
        LocationSource.NETWORK, None, "MSAG-3"
    )


def test_user_binding_beats_admin_network(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """A user's own binding for the network outranks the admin map."""
    store.add_network(ACCT, "198.51.100.0/24", address=address("1"))
    home = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", home.id, HOME_IP)
    found = store.locate(ACCT, "1001", HOME_IP)
    assert isinstance(found, Located)
    assert (found.source, found.address_id) == (LocationSource.BINDING, home.id)


def test_admin_network_can_point_at_a_saved_address(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """A network mapped to a saved address answers that address; deleting it is refused."""
    lobby = store.add_address(ACCT, "lobby-phone", address("110"))
    net = store.add_network(ACCT, "2001:db8:5::/48", address_id=lobby.id, label="lobby")
    assert net.address == address("110")
    found = store.locate(ACCT, "anyone", "2001:db8:5:1::7")
    assert isinstance(found, Located)
    assert (found.address_id, found.network_id) == (lobby.id, net.id)
    with pytest.raises(Conflict, match=net.id):
        store.delete_address(ACCT, "lobby-phone", lobby.id)
    store.delete_network(ACCT, net.id)
    store.delete_address(ACCT, "lobby-phone", lobby.id)


def test_admin_networks_crud_and_validation(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Add, list, get, delete; host bits, duplicates and other accounts' addresses refused."""
    net = store.add_network(ACCT, "10.0.0.0/8", address=address("1"))
    assert [n.id for n in store.list_networks(ACCT).data] == [net.id]
    assert store.get_network(ACCT, net.id) == net
    with pytest.raises(InvalidValue, match=re.escape("did you mean 10.1.2.0/24")):
        store.add_network(ACCT, "10.1.2.3/24", address=address("1"))
    with pytest.raises(Conflict):
        store.add_network(ACCT, "10.0.0.0/8", address=address("2"))
    with pytest.raises(InvalidValue):
        store.add_network(ACCT, "10.2.0.0/16")
    store.create_account("Other", account_id="acct_other")
    foreign = store.add_address("acct_other", "1001", address("5"))
    with pytest.raises(NotFound):
        store.add_network(ACCT, "10.3.0.0/16", address_id=foreign.id)
    with pytest.raises(NotFound):
        store.get_network("acct_other", net.id)
    store.delete_network(ACCT, net.id)
    assert store.list_networks(ACCT).data == ()


def test_another_users_binding_never_locates_me(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Two users behind the same NAT: only the user who bound gets the address."""
    mine = store.add_address(ACCT, "1001", address("105"))
    store.bind(ACCT, "1001", mine.id, HOME_IP)
    store.upsert_user(ACCT, "1002")
    assert store.locate(ACCT, "1002", HOME_IP) == Unlocated(UnlocatedReason.NO_BINDING)
    assert store.locate(ACCT, "1003", HOME_IP) == Unlocated(UnlocatedReason.UNKNOWN_USER)
    assert store.locate("acct_nope", "1001", HOME_IP) == Unlocated(
        UnlocatedReason.UNKNOWN_ACCOUNT
    )


def test_address_hex_sorts_like_addresses() -> None:
    """Fixed-width hex keeps address order as text order (the network range query)."""
    ips = ["0.0.0.1", "9.255.255.255", "10.0.0.0", "172.16.0.1", "255.255.255.255"]
    hexes = [address_hex(parse_ip(ip)) for ip in ips]
    assert hexes == sorted(hexes)
    assert hexes[2] == "0a000000"
    assert network_range_hex(parse_cidr("2001:db8::/32")) == (
        "20010db8" + "0" * 24, "20010db8" + "f" * 24
    )
    assert str(parse_ip("[fe80::1%eth0]")) == "fe80::1"


def test_network_key_of_text_agrees_with_ipaddress() -> None:
    """The C-parsed key of a stored CIDR equals the ipaddress one; non-canonical is refused."""
    for cidr in ("198.51.100.7/32", "10.0.0.0/8", "0.0.0.0/0", "2001:db8:1:2::/64", "::/0",
                 "2001:db8::1/128"):
        assert network_key_of(cidr) == network_key(parse_cidr(cidr)), cidr
    for bad in ("10.0.0.1/8", "10.0.0.0/33", "10.0.0/8", "nonsense", "2001:db8::/abc"):
        with pytest.raises(ValueError):
            network_key_of(bad)
