"""`e911-router address validate --json`: JSON on stdout, exit 0 valid, 1 invalid, 2 malformed
input with one line on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.cli import main

MSAG_DIR = Path(__file__).resolve().parents[2] / "config" / "msag"
SAMPLE = str(MSAG_DIR / "msag_sample_mt_30059.csv")
FIXTURE_CA = str(MSAG_DIR / "msag_fixture_ca_SYNTHETIC.csv")
LARAMIE = {"country": "US", "house_number": "301", "street": "East Laramie Street",
           "city": "White Sulphur Springs", "state": "MT", "postal_code": "59645"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["address", "validate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_address_prints_json_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """A valid address: exit 0, one JSON object with the MSAG row."""
    code, out, err = run(capsys, "--msag", SAMPLE, "--json", json.dumps(LARAMIE))
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["status"] == "valid"
    assert document["msag"]["msag_id"] == "TIGER2024-ADDRFEAT-30059-000306"
    assert document["normalized"]["prefix_directional"] == "E"


def test_invalid_address_exits_1_with_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt street: exit 1, errors with suggestions, no normalized address."""
    code, out, _ = run(capsys, "--msag", SAMPLE, "--json",
                       json.dumps({**LARAMIE, "street": "E Laramee St"}))
    document = json.loads(out)
    assert code == 1
    assert document["status"] == "invalid"
    assert document["normalized"] is None
    assert document["errors"][0]["suggestions"] == ["E LARAMIE ST", "E LARIME ST"]


def test_several_msag_files_are_one_index(capsys: pytest.CaptureFixture[str]) -> None:
    """--msag repeats: the Canadian fixture and the sample together."""
    code, out, _ = run(capsys, "--msag", SAMPLE, "--msag", FIXTURE_CA, "--json", json.dumps({
        "country": "CA", "house_number": "25", "street": "rue Laurier", "city": "Gatineau",
        "state": "QC", "postal_code": "J8X 3V9"}))
    assert code == 0
    assert json.loads(out)["msag"]["esn"] == "90020"


@pytest.mark.parametrize(("payload", "message"), [
    ("{not json", "error: --json is not valid JSON: Expecting property name enclosed in "
                  "double quotes at character 1\n"),
    ("[1, 2]", "error: --json must be a JSON object of address fields\n"),
    ('{"country": "US", "zip": "59645"}', "error: unknown address field(s): zip\n"),
    ('{"street": {"a": 1}}', "error: address field 'street' must be a string\n"),
])
def test_malformed_input_exits_2_with_one_stderr_line(
        capsys: pytest.CaptureFixture[str], payload: str, message: str) -> None:
    """Bad JSON, a non-object, an unknown field or a nested value: exit 2, nothing on
    stdout, one line on stderr."""
    code, out, err = run(capsys, "--msag", SAMPLE, "--json", payload)
    assert (code, out, err) == (2, "", message)


def test_broken_msag_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A --msag file with errors cannot be validated against."""
    bad = tmp_path / "bad.csv"
    bad.write_text("msag_id,country\nX,US\n")
    code, out, err = run(capsys, "--msag", str(bad), "--json", json.dumps(LARAMIE))
    assert (code, out) == (2, "")
    assert err.startswith("error: MSAG bad.csv has 7 error(s), first: line 1, column state:")


def test_without_msag_files_an_empty_store_falls_back_to_the_sample(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No --msag and nothing in the store: the shipped sample, said on stderr."""
    monkeypatch.setenv("E911_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("E911_LOG_FORMAT", "json")
    code, out, err = run(capsys, "--json", json.dumps(LARAMIE))
    assert code == 0
    assert json.loads(out)["status"] == "valid"
    assert err == ("note: store unavailable (OperationalError); validating against the "
                   "shipped sample msag_fixture_ca_SYNTHETIC.csv + msag_sample_mt_30059.csv\n")
