"""tests/support/bulk_seed.py: the load runs' bulk path writes what the store's own methods
write, so the store, a running view and a later `bind` treat bulk users like any other."""

from __future__ import annotations

from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    CallbackPreference,
    Located,
    LocationSource,
    Unlocated,
)
from router.location.view import LocationView
from router.store.store import Store
from tests.support.bulk_seed import BulkUser, bulk_add_users
from tests.support.stores import validated

ACCOUNT = DEFAULT_ACCOUNT_ID


def test_bulk_users_are_located_unlocated_and_rebindable_like_any_other(store: Store) -> None:
    view = LocationView(store)
    view.refresh()
    office = validated("105")
    written = bulk_add_users(store, [
        BulkUser("1000000", "+14067000000", "127.0.0.1"),
        BulkUser("1000001", None, "10.64.0.1"),
        BulkUser("3000000"),
    ], office)
    assert written == 3
    located = store.locate(ACCOUNT, "1000000", "127.0.0.1")
    assert isinstance(located, Located)
    assert located.source is LocationSource.BINDING and located.network == "127.0.0.1/32"
    assert located.civic == office.civic and located.msag_id == office.msag_id
    assert store.get_user(ACCOUNT, "1000000").callback_preference is CallbackPreference.OWN
    assert store.get_user(ACCOUNT, "1000001").callback_preference is CallbackPreference.ACCOUNT
    assert isinstance(store.locate(ACCOUNT, "3000000", "127.0.0.1"), Unlocated)
    # A view that was already running sees them (the bulk path steps change_seq).
    assert view.refresh()
    assert isinstance(view.locate(ACCOUNT, "1000001", "10.64.0.1"), Located)
    assert isinstance(view.locate(ACCOUNT, "3000000", "127.0.0.1"), Unlocated)
    # The store's own bind moves a bulk user's binding (what a change storm does).
    (binding,) = store.bindings_for_user(ACCOUNT, "1000001")
    store.bind(ACCOUNT, "1000001", binding.address_id, "10.65.0.1")
    assert view.refresh()
    assert isinstance(view.locate(ACCOUNT, "1000001", "10.64.0.1"), Unlocated)
    assert isinstance(view.locate(ACCOUNT, "1000001", "10.65.0.1"), Located)
