"""A refused MSAG import does not reach the running API (issue 13, finding 10): the API's
index follows the version in force, which a refused import leaves as it was."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.api_server import wss
from tests.support.msag_import import HEADER, msag_import

ADDRESSES = "/v1/users/1001/emergency-addresses"


def test_a_refused_empty_import_leaves_the_api_validating(
    admin: httpx.Client, store_url: str, tmp_path: Path,
) -> None:
    """Header-only and NUL-bearing files are refused by `e911-router msag import`; the API
    still saves Montana addresses against MSAG version 1 (before the fix the empty file
    became version 2 and every save failed `not_in_msag`)."""
    assert admin.post(ADDRESSES, json=wss()).status_code == 201
    empty, nul = tmp_path / "empty.csv", tmp_path / "nul.csv"
    empty.write_text(HEADER, encoding="utf-8")
    nul.write_text(HEADER + "A\x00,US,MT,,RINGLING,,59642,,KIFF,RD,,1,199,O,00120,,,,,,\n",
                   encoding="utf-8")
    for bad in (empty, nul):
        done = msag_import(store_url, bad)
        assert done.code == 1, done.stdout + done.stderr
        saved = admin.post(ADDRESSES, json=wss(house_number="305"))
        assert saved.status_code == 201, saved.text
        assert saved.json()["address"]["esn"] == "00110"
        assert admin.get("/health").json()["msag_version"] == 1
