"""Fixtures: the API over real HTTP against a real store on SQLite and on PostgreSQL, with the
sample MSAG imported (helpers in tests/support/api_server.py).

`api` is the running server; `admin` and `anon` are httpx clients on it; `user_client(...)`
issues a user token over the API and returns a client carrying it (optionally bound to another
loopback source address, so the server sees the "device" on another network).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from router.api import create_app
from router.location.bindings import BindPrefixes
from router.store.store import Store, open_store
from tests.support.api_server import (
    ADMIN_TOKEN,
    FAST,
    ApiServer,
    UserClient,
    api_settings,
    client,
    sample_msag,
    serve,
)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store with the sample MSAG imported."""
    s = open_store(store_url, bind_prefixes=BindPrefixes(32, 64))
    s.replace_msag(sample_msag())
    yield s
    s.close()


@pytest.fixture
def api(store: Store) -> Iterator[ApiServer]:
    """The API on a free port over `store` (no webhook)."""
    server = serve(create_app(api_settings(), store, options=FAST))
    yield server
    server.stop()


@pytest.fixture
def admin(api: ApiServer) -> Iterator[httpx.Client]:
    with client(api.url, ADMIN_TOKEN) as c:
        yield c


@pytest.fixture
def anon(api: ApiServer) -> Iterator[httpx.Client]:
    with client(api.url) as c:
        yield c


@pytest.fixture
def user_client(api: ApiServer, admin: httpx.Client) -> Iterator[UserClient]:
    """`user_client("1001", source="127.0.0.7")`: creates the user if needed, issues a token
    over the API, and returns a client using it."""
    opened: list[httpx.Client] = []

    def make(user: str, *, source: str | None = None) -> httpx.Client:
        if admin.get(f"/v1/users/{user}").status_code == 404:
            assert admin.put(f"/v1/users/{user}", json={}).status_code == 201
        issued = admin.post(f"/v1/users/{user}/tokens", json={"label": "softphone"})
        assert issued.status_code == 201, issued.text
        c = client(api.url, issued.json()["token"], source=source)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()
