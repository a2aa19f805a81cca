"""The error shape for malformed requests: 400, 404, 405, 413."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

SETTINGS = "/v1/account/emergency-settings"


def test_malformed_json_is_400(admin: httpx.Client) -> None:
    """Broken JSON and a JSON array where an object belongs are 400, not FastAPI's detail."""
    broken = admin.put(SETTINGS, content=b'{"enabled": tru',
                       headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["error"]["type"] == "invalid_request"
    assert broken.json()["error"]["message"].startswith("request body is not valid JSON")
    array = admin.put(SETTINGS, json=[1, 2])
    assert array.status_code == 400
    assert array.json() == {"error": {
        "type": "invalid_request", "fields": [],
        "message": "the request body must be a JSON object (Content-Type: application/json)"}}


def test_unknown_route_and_method(admin: httpx.Client) -> None:
    """404 and 405 use the same shape."""
    missing = admin.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"type": "not_found", "message": "no such endpoint",
                                        "fields": []}}
    wrong = admin.post(SETTINGS, json={})
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "method_not_allowed"


def test_bodies_over_64_kib_are_413(admin: httpx.Client) -> None:
    """A declared Content-Length over the limit, and a chunked body that grows past it."""
    big = b'{"label": "' + b"x" * 70_000 + b'"}'
    declared = admin.put("/v1/users/1001", content=big,
                         headers={"Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.json() == {"error": {"type": "request_too_large", "fields": [],
                                         "message": "request body is larger than 65536 bytes"}}

    def chunks() -> Iterator[bytes]:
        yield b'{"display_name": "'
        for _ in range(20):
            yield b"y" * 4096
        yield b'"}'

    chunked = admin.put("/v1/users/1001", content=chunks(),
                        headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert chunked.json()["error"]["type"] == "request_too_large"
    assert admin.get("/v1/users/1001").status_code == 404
