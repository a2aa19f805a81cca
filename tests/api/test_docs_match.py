"""docs/api.md says what the served API does (issue 14): its endpoint table and the field
codes a client switches on, checked against the live server."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
METHODS = ("get", "put", "post", "delete", "patch")


def _route(method: str, path: str) -> str:
    """`GET /v1/users/{}`: path parameters unnamed (the doc's names are for readers)."""
    return method.upper() + " " + re.sub(r"\{[^}]*\}", "{}", path)


def test_api_md_lists_every_v1_endpoint_the_server_serves(anon: httpx.Client) -> None:
    """The endpoint table of api.md and the served OpenAPI document name the same /v1/
    routes (call records included)."""
    paths = anon.get("/openapi.json").json()["paths"]
    served = {_route(m, p) for p, item in paths.items() if p.startswith("/v1/")
              for m in item if m in METHODS}
    documented = {_route(m, p) for m, p in re.findall(
        r"^\| `(GET|PUT|POST|DELETE|PATCH) (/v1/[^`?]*)", API_MD.read_text(), re.MULTILINE)}
    assert documented == served
    assert "GET /v1/call-records" in served


def test_eleven_contacts_answer_the_code_api_md_gives(admin: httpx.Client) -> None:
    """An eleventh emergency contact is refused with `too_long`, as api.md says; api.md lists
    no code the API never answers (`too_many`)."""
    eleven = admin.put("/v1/account/emergency-settings", json={
        "emergency_contacts": [f"ops{i}@example.com" for i in range(11)]})
    assert eleven.status_code == 422
    assert [(f["field"], f["code"]) for f in eleven.json()["error"]["fields"]] == [
        ("emergency_contacts", "too_long")]
    text = " ".join(API_MD.read_text().split())
    assert "`too_long` (a text over its limit, or more than 10 `emergency_contacts`)" in text
    assert "too_many" not in text
