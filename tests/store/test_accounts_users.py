"""Accounts (emergency settings, contacts) and users."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from router.db.errors import Conflict, EnableRefused, InvalidValue, NotFound
from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    Callback,
    CallbackPreference,
    ValidatedAddress,
)
from router.store.store import Store

CALLBACK = Callback(display_name="Acme HQ", number="+14065550100", language="en")


def test_account_settings_round_trip_and_bump_change_seq(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Default address, callback and contacts are stored as given; each change bumps the seq."""
    seq = store.change_seq()
    store.update_account(default_address=address("105"), callback=CALLBACK, language="es")
    store.set_contacts(DEFAULT_ACCOUNT_ID, ["ops@example.com", "security@example.com"])
    account = store.get_account()
    assert account.default_address == address("105")
    assert account.callback == CALLBACK
    assert account.language == "es"
    assert account.contacts == ("ops@example.com", "security@example.com")
    assert store.change_seq() == seq + 2


def test_enable_refused_until_address_contacts_and_callback_are_set(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Enabling names every missing setting, then succeeds once all three are present."""
    with pytest.raises(EnableRefused) as refused:
        store.update_account(enabled=True)
    assert refused.value.missing == ("default_address", "emergency_contacts", "callback")
    assert store.get_account().enabled is False
    store.update_account(default_address=address("105"), callback=CALLBACK)
    store.set_contacts(DEFAULT_ACCOUNT_ID, ["ops@example.com"])
    assert store.update_account(enabled=True).enabled is True
    with pytest.raises(EnableRefused) as emptied:
        store.set_contacts(DEFAULT_ACCOUNT_ID, [])
    assert emptied.value.missing == ("emergency_contacts",)
    assert store.get_contacts() == ("ops@example.com",)


def test_contacts_at_most_ten_and_no_duplicates(store: Store) -> None:
    """Talkdesk's limit of 10 contacts, duplicates (any case) refused, order kept."""
    ten = [f"c{i}@example.com" for i in range(10)]
    assert store.set_contacts(DEFAULT_ACCOUNT_ID, ten) == tuple(ten)
    with pytest.raises(InvalidValue, match="at most 10"):
        store.set_contacts(DEFAULT_ACCOUNT_ID, [*ten, "c10@example.com"])
    with pytest.raises(InvalidValue, match="duplicate"):
        store.set_contacts(DEFAULT_ACCOUNT_ID, ["a@example.com", "A@example.com"])
    assert store.get_contacts() == tuple(ten)


def test_callback_number_must_be_e164() -> None:
    """A callback number without + and country code is refused before it reaches the store."""
    with pytest.raises(ValueError, match=r"E\.164"):
        Callback(display_name="Acme", number="4065550100", language="en")


def test_unknown_account_is_not_found(store: Store) -> None:
    """Settings of an account that does not exist raise NotFound."""
    with pytest.raises(NotFound):
        store.get_account("acct_nope")
    with pytest.raises(NotFound):
        store.update_account("acct_nope", language="fr")


def test_second_account_is_separate(store: Store) -> None:
    """Accounts (tenants) exist from the start: a new one has its own settings."""
    other = store.create_account("Branch office", account_id="acct_branch")
    assert other.id == "acct_branch"
    assert {a.id for a in store.list_accounts()} == {"acct_default", "acct_branch"}
    with pytest.raises(Conflict):
        store.create_account("Again", account_id="acct_branch")


def test_upsert_user_creates_then_replaces(store: Store) -> None:
    """PUT semantics: the second upsert replaces every field, keeps created_at."""
    first = store.upsert_user(
        DEFAULT_ACCOUNT_ID, "1001", display_name="Ana Diaz", callback_number="+14065550111",
        language="es", callback_preference=CallbackPreference.OWN,
    )
    second = store.upsert_user(DEFAULT_ACCOUNT_ID, "1001", display_name="Ana D")
    assert second.display_name == "Ana D"
    assert second.callback_number is None
    assert second.language is None
    assert second.callback_preference is CallbackPreference.ACCOUNT
    assert second.created_at == first.created_at
    assert store.get_user(DEFAULT_ACCOUNT_ID, "1001") == second


def test_user_own_callback_preference_needs_a_number(store: Store) -> None:
    """'own' without the user's number would leave the PSAP without a callback."""
    with pytest.raises(InvalidValue, match="callback_number"):
        store.upsert_user(DEFAULT_ACCOUNT_ID, "1001", callback_preference=CallbackPreference.OWN)


def test_sip_user_is_unique_within_an_account_only(store: Store) -> None:
    """The same extension in two accounts is two users."""
    store.create_account("Other", account_id="acct_other")
    store.upsert_user(DEFAULT_ACCOUNT_ID, "1001", display_name="Default 1001")
    store.upsert_user("acct_other", "1001", display_name="Other 1001")
    assert store.get_user(DEFAULT_ACCOUNT_ID, "1001").display_name == "Default 1001"
    assert store.get_user("acct_other", "1001").display_name == "Other 1001"


def test_delete_user_removes_addresses_and_bindings(
    store: Store, address: Callable[..., ValidatedAddress]
) -> None:
    """Deleting a user takes their saved addresses and bindings with it."""
    saved = store.add_address(DEFAULT_ACCOUNT_ID, "1001", address("105"))
    store.bind(DEFAULT_ACCOUNT_ID, "1001", saved.id, "198.51.100.20")
    store.delete_user(DEFAULT_ACCOUNT_ID, "1001")
    with pytest.raises(NotFound):
        store.get_user(DEFAULT_ACCOUNT_ID, "1001")
    assert store.list_addresses(DEFAULT_ACCOUNT_ID, "1001").data == ()
    assert store.bindings_for_user(DEFAULT_ACCOUNT_ID, "1001") == []


def test_list_users_pages_through_all(store: Store) -> None:
    """Cursor pagination over users returns each once, sorted by SIP user."""
    names = [f"{2000 + i}" for i in range(7)]
    for name in reversed(names):
        store.upsert_user(DEFAULT_ACCOUNT_ID, name)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list_users(DEFAULT_ACCOUNT_ID, limit=3, starting_after=cursor)
        seen += [u.sip_user for u in page.data]
        if not page.has_more:
            break
        cursor = page.data[-1].sip_user
    assert seen == names
