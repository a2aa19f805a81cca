"""Saved addresses: only validated ones, cursor pagination, per-user isolation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from router.db.errors import InvalidValue, NotFound
from router.location.civic import AddressInput
from router.location.model import DEFAULT_ACCOUNT_ID, ValidatedAddress
from router.store.store import Store

ACCT = DEFAULT_ACCOUNT_ID


def test_add_get_delete_address(store: Store, address: Callable[..., ValidatedAddress]) -> None:
    """A saved address comes back exactly as stored, with its label and no binding."""
    saved = store.add_address(ACCT, "1001", address("105", unit="STE 4"), label="office")
    assert saved.id.startswith("adr_")
    assert saved.label == "office"
    assert saved.binding is None
    assert saved.address == address("105", unit="STE 4")
    assert store.get_address(ACCT, "1001", saved.id) == saved
    store.delete_address(ACCT, "1001", saved.id)
    with pytest.raises(NotFound):
        store.get_address(ACCT, "1001", saved.id)
    with pytest.raises(NotFound):
        store.delete_address(ACCT, "1001", saved.id)


def test_civic_extras_survive_the_round_trip(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Every CivicAddress field, including the extras pairs, is kept."""
    full = address("105").civic.with_changes(
        house_number_suffix="1/2", floor="2", room="201", building="B", location_info="REAR",
        plus4="1234",
    )
    full = replace(full, extras=(("psap_note", "gate code 1234"),))
    saved = store.add_address(ACCT, "1001", ValidatedAddress(full, "M-1", "00100"))
    assert store.get_address(ACCT, "1001", saved.id).address.civic == full


def test_raw_input_is_never_stored(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Only a ValidatedAddress is accepted; raw input, or an MSAG match with an msag_id and no
    ESN (or the reverse), is not."""
    raw = AddressInput(country="US", house_number="105", street="E Laramie St")
    with pytest.raises(InvalidValue, match="only validated"):
        store.add_address(ACCT, "1001", raw)  # type: ignore[arg-type]
    for msag_id, esn in (("TIGER-1", ""), ("", "00110")):
        with pytest.raises(ValueError, match="both msag_id and esn, or neither"):
            ValidatedAddress(address("105").civic, msag_id, esn)
    assert store.list_addresses(ACCT, "1001").data == ()


def test_address_in_an_msag_esn_conflict_is_stored_without_an_esn(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """An existing address the MSAG cannot give one ESN is kept with neither id nor ESN."""
    conflict = ValidatedAddress(address("105").civic, "", "")
    saved = store.add_address(ACCT, "1001", conflict, label="cabin")
    again = store.get_address(ACCT, "1001", saved.id)
    assert (again.address.msag_id, again.address.esn, again.address.esn_conflict) == (
        "", "", True)
    assert again.address.civic == conflict.civic


def test_pagination_pages_through_every_address_once(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """25 addresses, pages of 7: four pages, creation order, has_more false on the last."""
    ids = [store.add_address(ACCT, "1001", address(str(100 + i))).id for i in range(25)]
    pages = []
    cursor: str | None = None
    while True:
        page = store.list_addresses(ACCT, "1001", limit=7, starting_after=cursor)
        pages.append([a.id for a in page.data])
        if not page.has_more:
            break
        cursor = page.data[-1].id
    assert [len(p) for p in pages] == [7, 7, 7, 4]
    assert [i for p in pages for i in p] == ids


def test_exact_page_size_has_no_more(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """has_more is false when the last page is exactly full."""
    for i in range(4):
        store.add_address(ACCT, "1001", address(str(100 + i)))
    page = store.list_addresses(ACCT, "1001", limit=4)
    assert (len(page.data), page.has_more) == (4, False)


def test_page_limit_is_bounded(store: Store) -> None:
    """A limit outside 1..100 is refused."""
    for limit in (0, 101):
        with pytest.raises(InvalidValue, match="limit"):
            store.list_addresses(ACCT, "1001", limit=limit)


def test_users_see_only_their_own_addresses(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Another user's address is NotFound for get, delete, bind and clear, and never listed."""
    mine = store.add_address(ACCT, "1001", address("105"))
    theirs = store.add_address(ACCT, "1002", address("107"))
    assert [a.id for a in store.list_addresses(ACCT, "1001").data] == [mine.id]
    assert [a.id for a in store.list_addresses(ACCT, "1002").data] == [theirs.id]
    for attempt in (
        lambda: store.get_address(ACCT, "1001", theirs.id),
        lambda: store.delete_address(ACCT, "1001", theirs.id),
        lambda: store.bind(ACCT, "1001", theirs.id, "198.51.100.1"),
        lambda: store.clear_binding(ACCT, "1001", theirs.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert store.get_address(ACCT, "1002", theirs.id) == theirs


def test_accounts_are_isolated(store: Store, address: Callable[..., ValidatedAddress]) -> None:
    """The same SIP user in another account sees none of this account's addresses."""
    store.create_account("Other", account_id="acct_other")
    saved = store.add_address(ACCT, "1001", address("105"))
    assert store.list_addresses("acct_other", "1001").data == ()
    with pytest.raises(NotFound):
        store.get_address("acct_other", "1001", saved.id)


def test_address_for_unknown_account_is_refused(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Saving into an account that does not exist raises NotFound."""
    with pytest.raises(NotFound):
        store.add_address("acct_nope", "1001", address("105"))
