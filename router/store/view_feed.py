"""The location view's feed: everything `LocationView` mirrors, read from one snapshot
(`load_view_rows`), and what changed since a snapshot, from the change log
(`load_view_changes`)."""

from __future__ import annotations

import json
from collections.abc import Container

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from router.db import schema
from router.location.civic import CivicAddress
from router.location.model import ValidatedAddress
from router.location.view_rows import BindingRow, UserRow, ViewChanges, ViewRows
from router.store.accounts import read_accounts
from router.store.base import StoreBase
from router.store.civic_json import civic_from_json
from router.store.events import ChangeScope
from router.store.networks import network_from, networks_query


class ViewFeed(StoreBase):
    """The view's bulk reads."""

    def load_view_rows(self, known_addresses: Container[str] = frozenset()) -> ViewRows:
        """Everything `LocationView` mirrors, from one snapshot of the database.

        Saved addresses never change once stored, so the view passes the ids it already
        holds and only the others are read and decoded.
        """
        with self._db.snapshot() as conn:
            seq = int(conn.scalar(sa.select(schema.change_seq.c.seq)) or 0)
            users, with_addresses, bindings = _user_state(conn, None)
            return ViewRows(
                seq=seq,
                accounts=tuple(read_accounts(conn)),
                users=users,
                users_with_addresses=with_addresses,
                bindings=bindings,
                addresses=_bound_addresses(
                    conn, [r.address_id for r in bindings if r.address_id not in known_addresses]
                ),
                networks=tuple(network_from(r) for r in conn.execute(networks_query())),
            )

    def load_view_changes(
        self,
        since_seq: int,
        known_addresses: Container[str] = frozenset(),
        *,
        max_users: int = 5000,
    ) -> ViewChanges | None:
        """What changed after `since_seq`, re-read for the users, accounts and networks the
        change log names; None when the view should reload everything instead (the log was
        pruned past `since_seq`, or more than `max_users` users changed)."""
        log_table = schema.change_log
        with self._db.snapshot() as conn:
            seq = int(conn.scalar(sa.select(schema.change_seq.c.seq)) or 0)
            steps = conn.execute(
                sa.select(log_table.c.scope, log_table.c.account_id, log_table.c.sip_user)
                .where(log_table.c.seq > since_seq, log_table.c.seq <= seq)
            ).all()
            if len(steps) != seq - since_seq:
                return None
            users = frozenset(
                (step.account_id, step.sip_user)
                for step in steps
                if step.scope == ChangeScope.USER.value and step.sip_user is not None
            )
            if len(users) > max_users:
                return None
            scopes = {step.scope for step in steps}
            rows, with_addresses, bindings = _user_state(conn, users)
            return ViewChanges(
                seq=seq,
                accounts=(
                    tuple(read_accounts(conn)) if ChangeScope.ACCOUNT.value in scopes else None
                ),
                networks=(
                    tuple(network_from(r) for r in conn.execute(networks_query()))
                    if ChangeScope.NETWORKS.value in scopes
                    else None
                ),
                users=users,
                user_rows=rows,
                users_with_addresses=with_addresses,
                bindings=bindings,
                addresses=_bound_addresses(
                    conn, [r.address_id for r in bindings if r.address_id not in known_addresses]
                ),
            )


def _user_state(
    conn: Connection, users: frozenset[tuple[str, str]] | None
) -> tuple[tuple[UserRow, ...], frozenset[tuple[str, str]], tuple[BindingRow, ...]]:
    """User rows, who has saved addresses, and bindings: of everyone (`users` None) or
    of the given (account, SIP user) pairs."""
    a, b, u = schema.addresses, schema.bindings, schema.users
    user_query = sa.select(
        u.c.account_id, u.c.sip_user, u.c.display_name, u.c.callback_number,
        u.c.language, u.c.callback_preference,
    )
    owner_query = sa.select(a.c.account_id, a.c.sip_user).distinct()
    binding_query = sa.select(b.c.account_id, b.c.sip_user, b.c.network, b.c.address_id)
    if users is None:  # .all(): one fetchall, not a fetchone a row
        return (
            tuple(UserRow(*r) for r in conn.execute(user_query).all()),
            frozenset((r[0], r[1]) for r in conn.execute(owner_query).all()),
            tuple(BindingRow(*r) for r in conn.execute(binding_query).all()),
        )
    by_account: dict[str, list[str]] = {}
    for account_id, sip_user in users:
        by_account.setdefault(account_id, []).append(sip_user)
    rows: list[UserRow] = []
    owners: set[tuple[str, str]] = set()
    bindings: list[BindingRow] = []
    for account_id, names in by_account.items():
        for start in range(0, len(names), 500):
            chunk = names[start:start + 500]
            rows += (UserRow(*r) for r in conn.execute(user_query.where(
                u.c.account_id == account_id, u.c.sip_user.in_(chunk))))
            owners.update((r[0], r[1]) for r in conn.execute(owner_query.where(
                a.c.account_id == account_id, a.c.sip_user.in_(chunk))))
            bindings += (BindingRow(*r) for r in conn.execute(binding_query.where(
                b.c.account_id == account_id, b.c.sip_user.in_(chunk))))
    return tuple(rows), frozenset(owners), tuple(bindings)


def _bound_addresses(conn: Connection, ids: list[str]) -> dict[str, ValidatedAddress]:
    a, b = schema.addresses, schema.bindings
    # JSON as text, decoded below only for the rows wanted.
    columns = (a.c.id, sa.cast(a.c.civic, sa.Text).label("civic"), a.c.msag_id, a.c.esn)
    if len(ids) > 2000:  # a first load: one join beats thousands of IN lists
        wanted = set(ids)
        rows = [
            r for r in conn.execute(
                sa.select(*columns).join(b, b.c.address_id == a.c.id)
            ).all()
            if r.id in wanted
        ]
    else:
        rows = []
        for start in range(0, len(ids), 500):
            rows += conn.execute(
                sa.select(*columns).where(a.c.id.in_(ids[start:start + 500]))
            ).all()
    # Many users share an address (an office): decode each distinct JSON text once.
    civics: dict[str, CivicAddress] = {}
    out: dict[str, ValidatedAddress] = {}
    for r in rows:
        civic = civics.get(r.civic)
        if civic is None:
            civic = civics[r.civic] = civic_from_json(json.loads(r.civic))
        out[r.id] = ValidatedAddress(civic, r.msag_id, r.esn)
    return out
