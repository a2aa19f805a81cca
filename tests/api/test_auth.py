"""Bearer tokens: 401 without a good one, 403 for another user's resources, hashed storage."""

from __future__ import annotations

import hashlib

import httpx
import pytest
import sqlalchemy as sa

from router.db import schema
from router.store.store import Store
from tests.support.api_server import (
    ADMIN_TOKEN,
    OTHER_ADMIN_TOKEN,
    ApiServer,
    UserClient,
    client,
    wss,
)


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": f"Basic {ADMIN_TOKEN}"},
    {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
    {"Authorization": "Bearer e911u_not-a-token-anyone-was-given"},
], ids=["none", "empty", "basic", "longer", "shorter", "unknown-user-token"])
def test_missing_or_wrong_token_is_401_before_anything_else(
    api: ApiServer, headers: dict[str, str],
) -> None:
    """No token, another scheme or a near miss: 401 with WWW-Authenticate, even for a body
    that is not JSON."""
    with client(api.url) as c:
        response = c.put("/v1/account/emergency-settings", content=b"{not json",
                         headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="e911-router"'
    assert response.json()["error"]["type"] == "unauthenticated"
    assert response.json()["error"]["fields"] == []


def test_every_configured_admin_token_works(api: ApiServer) -> None:
    """Both tokens of E911_ADMIN_TOKENS are administrators."""
    for token in (ADMIN_TOKEN, OTHER_ADMIN_TOKEN):
        with client(api.url, token) as c:
            assert c.get("/v1/account/emergency-settings").status_code == 200


def test_openapi_and_health_need_no_token(anon: httpx.Client) -> None:
    """The OpenAPI document and the health check are open; it declares bearer auth."""
    document = anon.get("/openapi.json")
    assert document.status_code == 200
    assert document.json()["components"]["securitySchemes"] == {
        "HTTPBearer": {"type": "http", "scheme": "bearer",
                       "description": "An administrator token from E911_ADMIN_TOKENS or a "
                                      "user token issued by POST /v1/users/{user}/tokens"}}
    assert anon.get("/health").json() == {"status": "ok", "database": True, "msag_version": 1}


def test_user_token_cannot_touch_another_user(
    user_client: UserClient, admin: httpx.Client,
) -> None:
    """Every per-user endpoint answers 403 to another user's token, and changes nothing."""
    alice = user_client("1001")
    bob = user_client("1002")
    bob_address = bob.post("/v1/users/1002/emergency-addresses", json=wss()).json()["id"]
    bob_tokens = bob.get("/v1/users/1002/tokens").json()["data"]
    base = "/v1/users/1002"
    attempts = [
        ("GET", base, None), ("PUT", base, {"display_name": "Mallory"}),
        ("DELETE", base, None),
        ("GET", f"{base}/emergency-addresses", None),
        ("POST", f"{base}/emergency-addresses", wss()),
        ("GET", f"{base}/emergency-addresses/{bob_address}", None),
        ("DELETE", f"{base}/emergency-addresses/{bob_address}", None),
        ("PUT", f"{base}/emergency-addresses/{bob_address}/registered-ip", None),
        ("DELETE", f"{base}/emergency-addresses/{bob_address}/registered-ip", None),
        ("GET", f"{base}/location", None),
        ("GET", f"{base}/tokens", None),
        ("POST", f"{base}/tokens", {}),
        ("DELETE", f"{base}/tokens/{bob_tokens[0]['id']}", None),
        ("GET", "/v1/users/9999/emergency-addresses", None),
    ]
    for method, path, body in attempts:
        response = alice.request(method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["type"] == "forbidden"
    assert admin.get(f"{base}/emergency-addresses/{bob_address}").status_code == 200
    assert len(admin.get(f"{base}/tokens").json()["data"]) == 1
    assert bob.get(base).status_code == 200


def test_user_token_cannot_use_administrator_endpoints(user_client: UserClient) -> None:
    """Account settings, networks, the user list and issuing tokens are 403 for a user."""
    alice = user_client("1001")
    for method, path, body in [
        ("GET", "/v1/account/emergency-settings", None),
        ("PUT", "/v1/account/emergency-settings", {"enabled": False}),
        ("GET", "/v1/networks", None),
        ("POST", "/v1/networks", {"cidr": "10.0.0.0/8", "address": wss()}),
        ("GET", "/v1/users", None),
        ("POST", "/v1/users/1001/tokens", {}),
        ("DELETE", "/v1/users/1001", None),
    ]:
        response = alice.request(method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)


def test_tokens_are_stored_hashed_and_revocable(
    user_client: UserClient, admin: httpx.Client, store: Store, api: ApiServer,
) -> None:
    """The database holds the token's SHA-256, never the token; revoked or deleted-user
    tokens stop working at once."""
    assert admin.put("/v1/users/1001", json={"display_name": "Alice"}).status_code == 201
    issued = admin.post("/v1/users/1001/tokens", json={"label": "desk phone"})
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert token.startswith("e911u_") and len(token) >= 48
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.api_tokens)).all()
    assert [(r.id, r.sip_user, r.label, r.token_sha256) for r in rows] == [
        (issued.json()["id"], "1001", "desk phone", hashlib.sha256(token.encode()).hexdigest())]
    assert all(token not in str(tuple(r)) for r in rows)
    listed = admin.get("/v1/users/1001/tokens").json()["data"]
    assert [t["id"] for t in listed] == [issued.json()["id"]]
    assert "token" not in listed[0]

    with client(api.url, token) as phone:
        assert phone.get("/v1/users/1001").status_code == 200
        assert admin.delete(f"/v1/users/1001/tokens/{issued.json()['id']}").status_code == 204
        assert phone.get("/v1/users/1001").status_code == 401

    second = user_client("1001")
    assert second.get("/v1/users/1001").status_code == 200
    assert admin.delete("/v1/users/1001").status_code == 204
    assert second.get("/v1/users/1001").status_code == 401


def test_tokens_are_issued_only_for_existing_users(admin: httpx.Client) -> None:
    """POST .../tokens for a user nobody created is 404."""
    response = admin.post("/v1/users/4242/tokens", json={})
    assert response.status_code == 404
    assert response.json()["error"] == {"type": "not_found", "message": "user '4242' not found",
                                         "fields": []}
