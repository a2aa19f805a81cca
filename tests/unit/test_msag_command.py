"""`e911-router msag check|import`: reports with line numbers; an import with errors changes
nothing and the previous extract keeps working (real SQLite store in a temp directory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.cli import main
from router.store.store import open_store

MSAG_DIR = Path(__file__).resolve().parents[2] / "config" / "msag"
SAMPLE = str(MSAG_DIR / "msag_sample_mt_30059.csv")
FIXTURE_CA = str(MSAG_DIR / "msag_fixture_ca_SYNTHETIC.csv")
HEADER = ("msag_id,country,state,county,msag_community,postal_community,zip,pre_dir,"
          "street_name,street_type,post_dir,low,high,parity,esn,exchange,psap_id,"
          "effective_date,expire_date,source\n")
LARAMIE = json.dumps({"country": "US", "house_number": "301", "street": "E Laramie St",
                      "city": "White Sulphur Springs", "state": "MT",
                      "postal_code": "59645"})


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'e911.db'}"
    monkeypatch.setenv("E911_DATABASE_URL", url)
    monkeypatch.setenv("E911_LOG_FORMAT", "json")
    return url


@pytest.fixture
def broken_file(tmp_path: Path) -> Path:
    path = tmp_path / "broken.csv"
    path.write_text(
        HEADER
        + "A,US,MT,,RINGLING,,59642,,KIFF,RD,,1,199,O,00120,,,,,\n"
        + "B,US,MT,,RINGLING,,59642,,KIFF,RD,,300,200,E,00120,,,,,\n"
        + "C,US,MT,,RINGLING,,59642,,KIFF,RD,,1,99,Z,00120,,,,,\n"
        + "A,US,MT,,RINGLING,,59642,,LUCAS,RD,,1,99,O,00120,,,,,\n"
        + "D,US,MT,,RINGLING,,59642,,,RD,,1,99,O,00120,,,,,\n"
        + "E,US,MT,,RINGLING,,59642,,KIFF,RD,,101,151,O,00999,,,,,\n")
    return path


def test_check_reports_every_error_with_its_line(capsys: pytest.CaptureFixture[str],
                                                 broken_file: Path) -> None:
    """msag check: exit 1 and one report line per error and per overlap."""
    code = main(["msag", "check", str(broken_file)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines() == [
        "broken.csv: 2 rows, 4 errors, 1 ESN overlaps",
        "error: line 3, column low: low 300 > high 200 [low_above_high]",
        "error: line 4, column parity: parity 'Z' must be O, E or B [bad_parity]",
        "error: line 5, column msag_id: msag_id 'A' already used on line 2 "
        "[duplicate_msag_id]",
        "error: line 6, column street_name: street_name is empty; it is required "
        "[missing_field]",
        "warning: ESN overlap, lines 2 and 7: KIFF RD (RINGLING) 101-151 is in ESN 00120 (A) "
        "and ESN 00999 (E)",
        "refused: fix the errors above; nothing was changed",
    ]


def test_check_json_report(capsys: pytest.CaptureFixture[str], broken_file: Path) -> None:
    """msag check --json: the same report as one object."""
    assert main(["msag", "check", "--json", str(broken_file)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (3, "low_above_high"), (4, "bad_parity"), (5, "duplicate_msag_id"),
        (6, "missing_field")]
    assert report["overlaps"] == [{
        "lines": [2, 7], "msag_ids": ["A", "E"], "esns": ["00120", "00999"],
        "street": "KIFF RD", "community": "RINGLING", "low": 101, "high": 151}]


def test_check_of_the_shipped_files_passes(capsys: pytest.CaptureFixture[str]) -> None:
    """Both shipped files check clean."""
    assert main(["msag", "check", SAMPLE, FIXTURE_CA]) == 0
    assert capsys.readouterr().out == (
        "msag_sample_mt_30059.csv + msag_fixture_ca_SYNTHETIC.csv: 480 rows, 0 errors, "
        "0 ESN overlaps\n")


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """An unreadable file is a usage error."""
    assert main(["msag", "check", str(tmp_path / "nope.csv")]) == 2
    assert capsys.readouterr().err.startswith("error: cannot read ")


def test_failed_import_keeps_the_previous_extract(capsys: pytest.CaptureFixture[str],
                                                  database_url: str,
                                                  broken_file: Path) -> None:
    """Import the sample, then a broken file: the broken one is refused (exit 1) and the
    store still holds the 480 rows; validation from the store still works."""
    assert main(["msag", "import", SAMPLE, FIXTURE_CA]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        "imported as MSAG version 1 (480 rows) into sqlite")
    assert main(["msag", "import", str(broken_file)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "refused: fix the errors above; nothing was changed")
    store = open_store(database_url)
    try:
        assert len(store.load_msag_rows()) == 480
        version = store.msag_version()
        assert version is not None and version.version == 1
    finally:
        store.close()
    assert main(["address", "validate", "--json", LARAMIE]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["msag"]["esn"] == "00110"
    assert err == ""


def test_reimport_replaces_the_extract(capsys: pytest.CaptureFixture[str],
                                       database_url: str, tmp_path: Path) -> None:
    """A second good import replaces the first: the old streets stop validating."""
    assert main(["msag", "import", SAMPLE]) == 0
    small = tmp_path / "small.csv"
    small.write_text(HEADER + "A,US,MT,,RINGLING,,59642,,KIFF,RD,,1,199,O,00120,,,,,\n")
    assert main(["msag", "import", "--json", str(small)]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (report["rows"], report["version"]) == (1, 2)
    assert main(["address", "validate", "--json", LARAMIE]) == 1
    assert json.loads(capsys.readouterr().out)["errors"][0]["code"] == "unknown_community"
