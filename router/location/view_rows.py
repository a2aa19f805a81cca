"""The rows the in-memory `LocationView` loads from the store: a full load (`ViewRows`) and
the changes since a snapshot (`ViewChanges`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from router.location.model import Account, Network, ValidatedAddress


class UserRow(NamedTuple):
    """A user's settings as the view keeps them (no timestamps: lighter for 100,000)."""

    account_id: str
    sip_user: str
    display_name: str
    callback_number: str | None
    language: str | None
    callback_preference: str


class BindingRow(NamedTuple):
    account_id: str
    sip_user: str
    network: str
    address_id: str


@dataclass(frozen=True, slots=True)
class ViewRows:
    """Everything the in-memory view holds, read in one consistent transaction."""

    seq: int
    accounts: tuple[Account, ...]
    users: tuple[UserRow, ...]
    users_with_addresses: frozenset[tuple[str, str]]
    bindings: tuple[BindingRow, ...]
    addresses: Mapping[str, ValidatedAddress]
    """Bound addresses the caller did not already know (see `load_view_rows`)."""
    networks: tuple[Network, ...]


@dataclass(frozen=True, slots=True)
class ViewChanges:
    """What changed since a view's snapshot (see `Store.load_view_changes`)."""

    seq: int
    accounts: tuple[Account, ...] | None
    """Every account, when one changed (accounts are few); None when none did."""
    networks: tuple[Network, ...] | None
    """Every admin network, when one changed; None when none did."""
    users: frozenset[tuple[str, str]]
    """(account, SIP user) pairs whose row, addresses or bindings changed."""
    user_rows: tuple[UserRow, ...]
    """Their rows now (a user missing here was deleted)."""
    users_with_addresses: frozenset[tuple[str, str]]
    """Which of them have saved addresses now."""
    bindings: tuple[BindingRow, ...]
    """Their bindings now."""
    addresses: Mapping[str, ValidatedAddress]
    """Bound addresses the view did not know."""
