"""MSAG CSV parsing: the shipped extracts load; every kind of broken file is refused with the
file line number of each problem; ESN overlaps are kept and reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.location.msag import MsagRow, find_overlaps, parse_msag_csv, parse_msag_files

MSAG_DIR = Path(__file__).resolve().parents[2] / "config" / "msag"
SAMPLE = MSAG_DIR / "msag_sample_mt_30059.csv"
FIXTURE_CA = MSAG_DIR / "msag_fixture_ca_SYNTHETIC.csv"

HEADER = ("msag_id,country,state,county,msag_community,postal_community,zip,pre_dir,"
          "street_name,street_type,post_dir,low,high,parity,esn,exchange,psap_id,"
          "effective_date,expire_date,source\n")
GOOD_ROW = "R1,US,MT,MEAGHER,RINGLING,RINGLING,59642,,MAIN,ST,,2,198,E,00120,,,,,test\n"


def csv_text(*rows: str) -> str:
    return HEADER + "".join(rows)


def codes_by_line(text: str) -> list[tuple[int, str]]:
    parsed = parse_msag_csv(text)
    return [(e.line, e.code) for e in parsed.errors]


def test_sample_extract_loads_all_476_rows_without_errors() -> None:
    """The Montana sample parses completely: 476 rows, no errors, no overlaps."""
    parsed = parse_msag_csv(SAMPLE)
    assert parsed.ok
    assert len(parsed.rows) == 476
    assert parsed.errors == ()
    assert parsed.overlaps == ()
    assert parsed.source_name == "msag_sample_mt_30059.csv"
    assert len(parsed.sha256) == 64


def test_sample_row_keeps_every_column_and_its_line_number() -> None:
    """A row carries the FORMAT.md columns, typed, and the CSV line it came from."""
    parsed = parse_msag_csv(SAMPLE)
    row = next(r for r in parsed.rows if r.msag_id == "TIGER2024-ADDRFEAT-30059-000306")
    assert row == MsagRow(
        msag_id="TIGER2024-ADDRFEAT-30059-000306", country="US", state="MT", county="MEAGHER",
        msag_community="WHITE SULPHUR SPRINGS", postal_community="WHITE SULPHUR SPRINGS",
        zip="59645", pre_dir="E", street_name="LARAMIE", street_type="ST", post_dir="",
        low=301, high=799, parity="O", esn="00110", exchange="", psap_id="",
        effective_date="", expire_date="", source="TIGER2024-ADDRFEAT-30059",
        source_ids=row.source_ids, line=307)
    assert row.source_ids.startswith("TLID")


def test_canadian_fixture_loads_four_rows() -> None:
    """The synthetic Canadian fixture parses: Ottawa, Gatineau (RUE LAURIER), Toronto."""
    parsed = parse_msag_csv(FIXTURE_CA)
    assert parsed.ok
    assert [(r.state, r.msag_community, r.street_name, r.street_type) for r in parsed.rows] == [
        ("ON", "OTTAWA", "SUSSEX", "DR"), ("ON", "OTTAWA", "SUSSEX", "DR"),
        ("QC", "GATINEAU", "LAURIER", "RUE"), ("ON", "TORONTO", "BREMNER", "BLVD")]


def test_both_shipped_files_import_together() -> None:
    """Several files are one import: 480 rows, names joined in the source."""
    parsed = parse_msag_files([FIXTURE_CA, SAMPLE])
    assert parsed.ok
    assert len(parsed.rows) == 480
    assert parsed.source_name == "msag_fixture_ca_SYNTHETIC.csv + msag_sample_mt_30059.csv"


def test_low_above_high_is_refused_with_its_line() -> None:
    """low > high is a load-time reject naming line 3."""
    text = csv_text(GOOD_ROW, "R2,US,MT,,RINGLING,,,,MAIN,ST,,300,200,E,00120,,,,,\n")
    parsed = parse_msag_csv(text)
    assert not parsed.ok
    assert [(e.line, e.code, e.column) for e in parsed.errors] == [
        (3, "low_above_high", "low")]
    assert str(parsed.errors[0]) == "line 3, column low: low 300 > high 200 [low_above_high]"


def test_bad_parity_is_refused_with_its_line() -> None:
    """Parity other than O/E/B is refused."""
    text = csv_text(GOOD_ROW, GOOD_ROW.replace("R1", "R2").replace(",E,", ",X,"))
    assert codes_by_line(text) == [(3, "bad_parity")]


@pytest.mark.parametrize("column", ["msag_community", "street_name", "esn", "msag_id", "low"])
def test_missing_required_field_is_refused(column: str) -> None:
    """An empty required cell (community, street, ESN, id, low) is refused on its line."""
    fields = dict(zip(HEADER.strip().split(","), GOOD_ROW.strip().split(","), strict=True))
    fields[column] = ""
    text = csv_text(GOOD_ROW.replace("R1", "R0"), ",".join(fields.values()) + "\n")
    parsed = parse_msag_csv(text)
    assert [(e.line, e.code, e.column) for e in parsed.errors] == [
        (3, "missing_field", column)]


def test_duplicate_msag_id_names_both_lines() -> None:
    """A repeated msag_id is refused on its second line and names the first."""
    text = csv_text(GOOD_ROW, GOOD_ROW.replace("2,198", "200,298"))
    parsed = parse_msag_csv(text)
    assert [(e.line, e.code) for e in parsed.errors] == [(3, "duplicate_msag_id")]
    assert parsed.errors[0].message == "msag_id 'R1' already used on line 2"


def test_duplicate_msag_id_across_files_is_refused(tmp_path: Path) -> None:
    """The same msag_id in two files of one import is refused, naming both files."""
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(csv_text(GOOD_ROW))
    second.write_text(csv_text(GOOD_ROW))
    parsed = parse_msag_files([first, second])
    assert [(e.file, e.line, e.code) for e in parsed.errors] == [
        ("b.csv", 2, "duplicate_msag_id")]
    assert parsed.errors[0].message == "msag_id 'R1' already used in a.csv line 2"


def test_wrong_country_and_state_are_refused() -> None:
    """Country must be US or CA, and the state a code of that country."""
    text = csv_text(GOOD_ROW.replace("R1,US,MT", "R2,MX,MT"),
                    GOOD_ROW.replace("R1,US,MT", "R3,US,QC"))
    assert codes_by_line(text) == [(2, "bad_country"), (3, "bad_state")]


def test_malformed_integers_are_refused() -> None:
    """low/high must be whole non-negative numbers."""
    text = csv_text(GOOD_ROW.replace("2,198", "2a,198"),
                    GOOD_ROW.replace("R1", "R2").replace("2,198", "-4,198"),
                    GOOD_ROW.replace("R1", "R3").replace("2,198", "2,1.5e3"))
    assert codes_by_line(text) == [(2, "bad_integer"), (3, "bad_integer"), (4, "bad_integer")]


def test_missing_header_column_is_refused_on_line_1() -> None:
    """A header without a required column refuses the file before reading rows."""
    text = HEADER.replace("parity,", "") + GOOD_ROW.replace(",E,00120", ",00120")
    parsed = parse_msag_csv(text)
    assert [(e.line, e.code, e.column) for e in parsed.errors] == [
        (1, "missing_column", "parity")]
    assert parsed.rows == ()


def test_wrong_field_count_and_bad_values_report_every_line() -> None:
    """Every broken line is reported in one pass, in file order."""
    text = csv_text(
        GOOD_ROW,
        "R2,US,MT\n",
        GOOD_ROW.replace("R1", "R3").replace(",,MAIN,ST,,", ",X,MAIN,ST,,"),
        GOOD_ROW.replace("R1", "R4").replace("00120", "1"),
        GOOD_ROW.replace("R1", "R5").replace(",,,,test", ",,2024-13-01,,test"),
    )
    assert codes_by_line(text) == [
        (3, "bad_field_count"), (4, "bad_directional"), (5, "bad_esn"), (6, "bad_date")]


def test_quoted_field_spanning_lines_keeps_later_line_numbers_right() -> None:
    """A quoted cell with a line break moves the next row's line number by one."""
    text = csv_text(GOOD_ROW.replace(",test\n", ',"two\nlines"\n'),
                    GOOD_ROW.replace("R1", "R2").replace(",E,", ",Q,"))
    assert codes_by_line(text) == [(4, "bad_parity")]


def test_values_are_trimmed_and_upper_cased() -> None:
    """Cells are trimmed and upper-cased (msag_id and source kept as written)."""
    parsed = parse_msag_csv(csv_text(
        "r1, us , mt ,,ringling,,59642,,  main  ,st,,2,198,e,00120,,,,,Test\n"))
    assert parsed.ok
    row = parsed.rows[0]
    assert (row.msag_id, row.country, row.state, row.street_name, row.parity, row.source) == (
        "r1", "US", "MT", "MAIN", "E", "Test")


def test_empty_file_is_refused() -> None:
    """A file with no header is refused on line 1."""
    parsed = parse_msag_csv("\n\n")
    assert [(e.line, e.code) for e in parsed.errors] == [(1, "missing_header")]


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    """A Latin-1 file is refused with the line of the first bad byte."""
    path = tmp_path / "latin1.csv"
    path.write_bytes((csv_text(GOOD_ROW) + "R2,CA,QC,,MONTRÉAL,,,,X,RUE,,1,9,B,001,,,,,\n")
                     .encode("latin-1"))
    parsed = parse_msag_csv(path)
    assert [(e.line, e.code) for e in parsed.errors] == [(3, "bad_encoding")]


def test_overlap_with_different_esn_is_kept_and_reported() -> None:
    """Two rows of one street covering the same odd numbers with different ESNs: both kept,
    one overlap reported with both lines and the shared range."""
    text = csv_text(
        "A,US,MT,,RINGLING,,59642,,MAIN,ST,,1,199,O,00120,,,,,\n",
        "B,US,MT,,RINGLING,,59642,,MAIN,ST,,2,198,E,00120,,,,,\n",
        "C,US,MT,,RINGLING,,59641,,MAIN,ST,,101,299,B,00999,,,,,\n",
    )
    parsed = parse_msag_csv(text)
    assert parsed.ok
    assert len(parsed.rows) == 3
    assert [(o.first.line, o.second.line, o.low, o.high) for o in parsed.overlaps] == [
        (2, 4, 101, 199), (3, 4, 102, 198)]
    assert str(parsed.overlaps[0]) == (
        "lines 2 and 4: MAIN ST (RINGLING) 101-199 is in ESN 00120 (A) and ESN 00999 (C)")


def test_opposite_parities_and_same_esn_are_not_overlaps() -> None:
    """Odd and even sides never overlap; the same ESN twice is no conflict; nor are two
    different streets."""
    rows = [
        MsagRow(msag_id="A", country="US", state="MT", msag_community="X", street_name="MAIN",
                low=1, high=99, parity="O", esn="001", line=2),
        MsagRow(msag_id="B", country="US", state="MT", msag_community="X", street_name="MAIN",
                low=2, high=98, parity="E", esn="002", line=3),
        MsagRow(msag_id="C", country="US", state="MT", msag_community="X", street_name="MAIN",
                low=1, high=99, parity="B", esn="001", line=4),
        MsagRow(msag_id="D", country="US", state="MT", msag_community="X", street_name="MAIN",
                pre_dir="E", low=1, high=99, parity="B", esn="003", line=5),
    ]
    assert [(o.first.msag_id, o.second.msag_id) for o in find_overlaps(rows)] == [("B", "C")]


def test_report_lines_list_errors_then_overlaps() -> None:
    """The import report is one summary line, then each error and overlap."""
    text = csv_text(
        "A,US,MT,,RINGLING,,59642,,MAIN,ST,,1,199,O,00120,,,,,\n",
        "B,US,MT,,RINGLING,,59642,,MAIN,ST,,101,199,O,00121,,,,,\n",
        "C,US,MT,,RINGLING,,59642,,MAIN,ST,,9,1,O,00121,,,,,\n",
    )
    assert parse_msag_csv(text, source_name="x.csv").report_lines() == [
        "x.csv: 2 rows, 1 errors, 1 ESN overlaps",
        "error: line 4, column low: low 9 > high 1 [low_above_high]",
        "warning: ESN overlap, lines 2 and 3: MAIN ST (RINGLING) 101-199 is in ESN 00120 (A) "
        "and ESN 00121 (B)",
    ]
