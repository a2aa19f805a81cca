"""Network bindings, pure: which network a device IP belongs to, and which CIDRs contain it.

A saved address binds to the *network* a device registered from, not to its exact IP: the IP
is grouped by a prefix length (`E911_BIND_PREFIX_V4`, default /32; `E911_BIND_PREFIX_V6`,
default /64, the usual size of one IPv6 LAN, RFC 7421). A device that comes back to that
network finds its binding again; on any other network the binding does not apply.

No I/O here: the store and the in-memory view both call these functions, so the database
answer and the in-memory answer cannot drift apart.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

NetworkKey = tuple[int, int, int]
"""(IP version, prefix length, network address as int): a hashable, cheap network id."""

_BITS = {4: 32, 6: 128}
_MASKS = {
    (version, length): ((1 << bits) - 1) ^ ((1 << (bits - length)) - 1)
    for version, bits in _BITS.items()
    for length in range(bits + 1)
}


@dataclass(frozen=True, slots=True)
class BindPrefixes:
    """How device IPs are grouped into networks."""

    v4: int = 32
    v6: int = 64

    def __post_init__(self) -> None:
        if not 1 <= self.v4 <= 32:
            raise ValueError(f"IPv4 bind prefix must be 1..32, got {self.v4}")
        if not 1 <= self.v6 <= 128:
            raise ValueError(f"IPv6 bind prefix must be 1..128, got {self.v6}")

    def for_version(self, version: int) -> int:
        return self.v4 if version == 4 else self.v6


def parse_ip(value: str | IPAddress) -> IPAddress:
    """A device IP from an INVITE source or a trusted header; raises `ValueError`.

    A link-local scope ("fe80::1%eth0") is dropped, and an IPv4-mapped IPv6 address
    (RFC 4291 section 2.5.5.2, what a dual-stack socket reports for an IPv4 peer) becomes the
    IPv4 address, so one device has one network whatever socket it reached.
    """
    if isinstance(value, IPv4Address | IPv6Address):
        address = value
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        address = ip_address(text.split("%", 1)[0])
    else:
        raise ValueError(f"not an IP address: {type(value).__name__}")
    if isinstance(address, IPv6Address):
        if address.scope_id is not None:
            address = IPv6Address(int(address))
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address


def network_of(ip: str | IPAddress, prefixes: BindPrefixes) -> IPNetwork:
    """The network a device IP is grouped into for binding."""
    address = parse_ip(ip)
    return ip_network((address, prefixes.for_version(address.version)), strict=False)


def parse_cidr(value: str) -> IPNetwork:
    """An administrator's CIDR; host bits set is refused with the network it probably meant."""
    text = value.strip()
    try:
        return ip_network(text, strict=True)
    except ValueError as exc:
        try:
            meant = ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"not an IP network in CIDR notation: {value!r}") from exc
        raise ValueError(f"{value!r} has host bits set; did you mean {meant}?") from exc


def network_key(network: IPNetwork) -> NetworkKey:
    return (network.version, network.prefixlen, int(network.network_address))


def network_key_of(cidr: str) -> NetworkKey:
    """`network_key` of a canonical CIDR text as the store writes it ("198.51.100.7/32"),
    through the C parser: the view indexes 100,000 of these on a first load."""
    address, _, length = cidr.partition("/")
    family, version = (socket.AF_INET6, 6) if ":" in address else (socket.AF_INET, 4)
    try:
        value = int.from_bytes(socket.inet_pton(family, address), "big")
        prefix = int(length)
    except (OSError, ValueError) as exc:
        raise ValueError(f"not a CIDR: {cidr!r}") from exc
    if not 0 <= prefix <= _BITS[version] or masked(value, version, prefix) != value:
        raise ValueError(f"not a network in canonical form: {cidr!r}")
    return (version, prefix, value)


def masked(ip_int: int, version: int, length: int) -> int:
    """The network address of `ip_int` under a /`length` prefix."""
    return ip_int & _MASKS[(version, length)]


def address_hex(ip: IPAddress) -> str:
    """Fixed-width hex of an address (8 digits IPv4, 32 IPv6): text order is address order,
    so "first <= ip <= last" works as a plain indexed comparison on SQLite and PostgreSQL."""
    return f"{int(ip):0{8 if ip.version == 4 else 32}x}"


def network_range_hex(network: IPNetwork) -> tuple[str, str]:
    """First and last address of `network`, as `address_hex`."""
    return address_hex(network.network_address), address_hex(network.broadcast_address)


def contains(network: str, ip: IPAddress) -> bool:
    """Whether the canonical CIDR text `network` contains `ip` (any prefix length)."""
    parsed = ip_network(network)
    return parsed.version == ip.version and ip in parsed
