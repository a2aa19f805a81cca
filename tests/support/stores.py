"""Stores on the test's database, as the store suite opens them (`open_another`, `store`
fixtures, shared by the store, notify and observe conftests), and addresses built directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from router.location.bindings import BindPrefixes
from router.location.civic import CivicAddress
from router.location.model import ValidatedAddress
from router.store.base import DEFAULT_NETWORK_EVENT_WINDOW
from router.store.store import Store, open_store


class StoreOpener:
    """Opens more stores on the test's database (other settings, a second "host")."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opened: list[Store] = []

    def __call__(
        self, prefixes: BindPrefixes | None = None, window: timedelta | None = None
    ) -> Store:
        s = open_store(
            self.url, bind_prefixes=prefixes,
            network_event_window=window or DEFAULT_NETWORK_EVENT_WINDOW,
        )
        self.opened.append(s)
        return s


@pytest.fixture
def open_another(store_url: str) -> Iterator[StoreOpener]:
    opener = StoreOpener(store_url)
    yield opener
    for s in opener.opened:
        s.close()


@pytest.fixture
def store(open_another: StoreOpener) -> Store:
    """A migrated store with default settings (/32 and /64 bind prefixes)."""
    return open_another()


def civic(house_number: str = "105", street: str = "LARAMIE", **changes: str) -> CivicAddress:
    """A normalised White Sulphur Springs address, built directly (no validator needed)."""
    base = CivicAddress(
        country="US", state="MT", street_name=street, house_number=house_number,
        prefix_directional="E", street_suffix="ST", city="WHITE SULPHUR SPRINGS",
        county="MEAGHER", postal_code="59645", postal_community="WHITE SULPHUR SPRINGS",
    )
    return base.with_changes(**changes) if changes else base


def validated(house_number: str = "105", **changes: str) -> ValidatedAddress:
    return ValidatedAddress(civic(house_number, **changes), f"MSAG-{house_number}", "00100")
