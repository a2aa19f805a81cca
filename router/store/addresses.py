"""A user's saved addresses, their bindings to the networks the user's devices register from,
and `locate`: the effective location of a device straight from the database."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from router.db import schema
from router.db.errors import InvalidValue, NotFound
from router.location.bindings import address_hex, contains, network_of, parse_ip
from router.location.model import (
    Binding,
    Located,
    Location,
    LocationSource,
    Page,
    SavedAddress,
    Unlocated,
    UnlocatedReason,
    ValidatedAddress,
)
from router.store.accounts import ensure_user, read_account
from router.store.base import StoreBase, utc_now
from router.store.checks import check_limit, check_sip_user
from router.store.civic_json import civic_from_json, civic_to_json
from router.store.events import ChangeScope, bump
from router.store.guards import refuse_if_networks_use
from router.store.ids import new_id
from router.store.networks import located_by_network, network_from, networks_query


class AddressesStore(StoreBase):
    """Saved addresses, bindings, and the database's answer to "where is this device"."""

    # -- saved addresses --------------------------------------------------------------------

    def add_address(
        self, account_id: str, sip_user: str, address: ValidatedAddress, *, label: str = ""
    ) -> SavedAddress:
        """Save a validated address for a user (the user row is created if missing)."""
        check_sip_user(sip_user)
        if not isinstance(address, ValidatedAddress):
            raise InvalidValue("address", "only validated addresses are stored")
        new = new_id("adr")
        with self._db.write() as conn:
            read_account(conn, account_id)
            ensure_user(conn, account_id, sip_user)
            conn.execute(
                schema.addresses.insert().values(
                    id=new, account_id=account_id, sip_user=sip_user, label=label.strip(),
                    civic=civic_to_json(address.civic), msag_id=address.msag_id,
                    esn=address.esn, created_at=utc_now(),
                )
            )
            bump(conn, ChangeScope.USER, account_id, sip_user)
            return _read_address(conn, account_id, sip_user, new)

    def get_address(self, account_id: str, sip_user: str, address_id: str) -> SavedAddress:
        with self._db.read() as conn:
            return _read_address(conn, account_id, sip_user, address_id)

    def list_addresses(
        self,
        account_id: str,
        sip_user: str,
        *,
        limit: int = 20,
        starting_after: str | None = None,
    ) -> Page[SavedAddress]:
        """A user's addresses, oldest first; pass the last id as `starting_after` for more."""
        check_limit(limit)
        a = schema.addresses
        query = _addresses_query().where(
            a.c.account_id == account_id, a.c.sip_user == sip_user
        )
        if starting_after is not None:
            query = query.where(a.c.id > starting_after)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(a.c.id).limit(limit + 1)).all()
        return Page(tuple(_saved_from(r) for r in rows[:limit]), len(rows) > limit)

    def delete_address(self, account_id: str, sip_user: str, address_id: str) -> None:
        """Delete a saved address; its bindings go with it (ON DELETE CASCADE)."""
        with self._db.write() as conn:
            _read_address(conn, account_id, sip_user, address_id)
            refuse_if_networks_use(conn, [address_id])
            conn.execute(schema.addresses.delete().where(schema.addresses.c.id == address_id))
            bump(conn, ChangeScope.USER, account_id, sip_user)

    # -- bindings -------------------------------------------------------------------------------

    def bind(
        self, account_id: str, sip_user: str, address_id: str, ip: str
    ) -> Binding:
        """Bind a saved address to the network of `ip` (the device's registered IP).

        An address has one registered network: binding it again moves it. A user has one
        address per network: another address bound to the same network is unbound.
        """
        try:
            network = str(network_of(ip, self.bind_prefixes))
            registered = str(parse_ip(ip))
        except ValueError as exc:
            raise InvalidValue("ip", str(exc)) from exc
        b = schema.bindings
        now = utc_now()
        with self._db.write() as conn:
            _read_address(conn, account_id, sip_user, address_id)
            conn.execute(
                b.delete().where(
                    sa.or_(
                        b.c.address_id == address_id,
                        sa.and_(
                            b.c.account_id == account_id,
                            b.c.sip_user == sip_user,
                            b.c.network == network,
                        ),
                    )
                )
            )
            conn.execute(
                b.insert().values(
                    address_id=address_id, account_id=account_id, sip_user=sip_user,
                    network=network, registered_ip=registered, bound_at=now,
                )
            )
            bump(conn, ChangeScope.USER, account_id, sip_user)
        return Binding(address_id, account_id, sip_user, network, registered, now)

    def clear_binding(self, account_id: str, sip_user: str, address_id: str) -> bool:
        """Explicitly drop an address's binding; False when it had none."""
        b = schema.bindings
        with self._db.write() as conn:
            _read_address(conn, account_id, sip_user, address_id)
            removed = conn.execute(b.delete().where(b.c.address_id == address_id)).rowcount
            if removed:
                bump(conn, ChangeScope.USER, account_id, sip_user)
        return bool(removed)

    def bindings_for_user(self, account_id: str, sip_user: str) -> list[Binding]:
        b = schema.bindings
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(b)
                .where(b.c.account_id == account_id, b.c.sip_user == sip_user)
                .order_by(b.c.network)
            ).all()
        return [_binding_from(r) for r in rows]

    # -- locate -----------------------------------------------------------------------------

    def locate(self, account_id: str, sip_user: str, ip: str) -> Location:
        """The effective location straight from the database (API `GET .../location`).

        Same precedence as `LocationView.locate`: the user's binding for the device's network,
        else the most specific admin network containing the IP, else `Unlocated`.
        """
        try:
            address = parse_ip(ip)
        except ValueError:
            return Unlocated(UnlocatedReason.INVALID_IP)
        a, b, n = schema.addresses, schema.bindings, schema.networks
        with self._db.read() as conn:
            # A user has a handful of bindings: read them all, test containment here (this
            # also finds bindings made under an older bind-prefix setting).
            bound = [
                r for r in conn.execute(
                    sa.select(b.c.network, a.c.id, a.c.civic, a.c.msag_id, a.c.esn)
                    .join(a, a.c.id == b.c.address_id)
                    .where(b.c.account_id == account_id, b.c.sip_user == sip_user)
                )
                if contains(r.network, address)
            ]
            if bound:
                row = max(bound, key=lambda r: ip_network(r.network).prefixlen)
                return Located(
                    address_id=row.id, civic=civic_from_json(row.civic), msag_id=row.msag_id,
                    esn=row.esn, source=LocationSource.BINDING, network=row.network,
                )
            point = address_hex(address)
            mapped = conn.execute(
                networks_query()
                .where(
                    n.c.account_id == account_id,
                    n.c.family == address.version,
                    n.c.first_ip <= point,
                    n.c.last_ip >= point,
                )
                .order_by(n.c.prefix_len.desc())
                .limit(1)
            ).first()
            if mapped is not None:
                return located_by_network(network_from(mapped))
            accounts, u = schema.accounts, schema.users
            if conn.scalar(sa.select(accounts.c.id).where(accounts.c.id == account_id)) is None:
                return Unlocated(UnlocatedReason.UNKNOWN_ACCOUNT)
            known = conn.scalar(
                sa.select(u.c.sip_user).where(
                    u.c.account_id == account_id, u.c.sip_user == sip_user
                )
            )
        return Unlocated(UnlocatedReason.NO_BINDING if known else UnlocatedReason.UNKNOWN_USER)


def _addresses_query() -> sa.Select[Any]:
    a, b = schema.addresses, schema.bindings
    return sa.select(
        a,
        b.c.network.label("b_network"),
        b.c.registered_ip.label("b_registered_ip"),
        b.c.bound_at.label("b_bound_at"),
    ).outerjoin(b, b.c.address_id == a.c.id)


def _read_address(
    conn: Connection, account_id: str, sip_user: str, address_id: str
) -> SavedAddress:
    a = schema.addresses
    row = conn.execute(
        _addresses_query().where(
            a.c.id == address_id, a.c.account_id == account_id, a.c.sip_user == sip_user
        )
    ).first()
    if row is None:
        raise NotFound("address", address_id)
    return _saved_from(row)


def _binding_from(row: Row[Any]) -> Binding:
    return Binding(
        address_id=row.address_id, account_id=row.account_id, sip_user=row.sip_user,
        network=row.network, registered_ip=row.registered_ip, bound_at=row.bound_at,
    )


def _saved_from(row: Row[Any]) -> SavedAddress:
    binding = (
        Binding(row.id, row.account_id, row.sip_user, row.b_network, row.b_registered_ip,
                row.b_bound_at)
        if row.b_network is not None
        else None
    )
    return SavedAddress(
        id=row.id, account_id=row.account_id, sip_user=row.sip_user, label=row.label,
        address=ValidatedAddress(civic_from_json(row.civic), row.msag_id, row.esn),
        binding=binding, created_at=row.created_at,
    )
