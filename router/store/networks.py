"""Admin networks: a CIDR of an account mapped to a validated address (inline, or one of the
account's saved addresses), the location of fixed phones on that network."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from router.db import schema
from router.db.errors import Conflict, InvalidValue, NotFound
from router.location.bindings import network_range_hex, parse_cidr
from router.location.model import Located, LocationSource, Network, Page, ValidatedAddress
from router.store.accounts import read_account
from router.store.base import StoreBase, utc_now
from router.store.checks import check_limit
from router.store.civic_json import civic_from_json, civic_to_json
from router.store.events import ChangeScope, bump
from router.store.ids import new_id


class NetworksStore(StoreBase):
    """An account's admin networks."""

    def add_network(
        self,
        account_id: str,
        cidr: str,
        *,
        address: ValidatedAddress | None = None,
        address_id: str | None = None,
        label: str = "",
    ) -> Network:
        """Map a CIDR to a validated address (inline) or to a saved address of the account."""
        if (address is None) == (address_id is None):
            raise InvalidValue("address", "give exactly one of address or address_id")
        try:
            network = parse_cidr(cidr)
        except ValueError as exc:
            raise InvalidValue("cidr", str(exc)) from exc
        new = new_id("net")
        a = schema.addresses
        with self._db.write() as conn:
            read_account(conn, account_id)
            if address_id is not None:
                owner = conn.scalar(
                    sa.select(a.c.account_id).where(a.c.id == address_id)
                )
                if owner != account_id:
                    raise NotFound("address", address_id)
            try:
                with conn.begin_nested():
                    first_ip, last_ip = network_range_hex(network)
                    conn.execute(
                        schema.networks.insert().values(
                            id=new, account_id=account_id, cidr=str(network),
                            family=network.version, prefix_len=network.prefixlen,
                            first_ip=first_ip, last_ip=last_ip,
                            label=label.strip(), address_id=address_id,
                            civic=civic_to_json(address.civic) if address else None,
                            msag_id=address.msag_id if address else None,
                            esn=address.esn if address else None,
                            created_at=utc_now(),
                        )
                    )
            except IntegrityError as exc:
                raise Conflict(f"network {network} is already mapped") from exc
            bump(conn, ChangeScope.NETWORKS, account_id)
            return _read_network(conn, account_id, new)

    def get_network(self, account_id: str, network_id: str) -> Network:
        with self._db.read() as conn:
            return _read_network(conn, account_id, network_id)

    def list_networks(
        self, account_id: str, *, limit: int = 20, starting_after: str | None = None
    ) -> Page[Network]:
        check_limit(limit)
        n = schema.networks
        query = networks_query().where(n.c.account_id == account_id)
        if starting_after is not None:
            query = query.where(n.c.id > starting_after)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(n.c.id).limit(limit + 1)).all()
        return Page(tuple(network_from(r) for r in rows[:limit]), len(rows) > limit)

    def delete_network(self, account_id: str, network_id: str) -> None:
        n = schema.networks
        with self._db.write() as conn:
            _read_network(conn, account_id, network_id)
            conn.execute(n.delete().where(n.c.id == network_id))
            bump(conn, ChangeScope.NETWORKS, account_id)


def networks_query() -> sa.Select[Any]:
    """Networks with the saved address they point at (if any), for `network_from`."""
    n, a = schema.networks, schema.addresses
    return sa.select(
        n,
        a.c.civic.label("a_civic"),
        a.c.msag_id.label("a_msag_id"),
        a.c.esn.label("a_esn"),
    ).outerjoin(a, a.c.id == n.c.address_id)


def network_from(row: Row[Any]) -> Network:
    if row.address_id is not None:
        address = ValidatedAddress(civic_from_json(row.a_civic), row.a_msag_id, row.a_esn)
    else:
        address = ValidatedAddress(civic_from_json(row.civic), row.msag_id, row.esn)
    return Network(
        id=row.id, account_id=row.account_id, cidr=row.cidr, label=row.label,
        address_id=row.address_id, address=address, created_at=row.created_at,
    )


def located_by_network(net: Network) -> Located:
    return Located(
        address_id=net.address_id, civic=net.address.civic, msag_id=net.address.msag_id,
        esn=net.address.esn, source=LocationSource.NETWORK, network=net.cidr,
        network_id=net.id,
    )


def _read_network(conn: Connection, account_id: str, network_id: str) -> Network:
    n = schema.networks
    row = conn.execute(
        networks_query().where(n.c.id == network_id, n.c.account_id == account_id)
    ).first()
    if row is None:
        raise NotFound("network", network_id)
    return network_from(row)
