"""MSAG files the parser must refuse (issue 13, finding 10): no data rows, control
characters in a cell, digits that are not ASCII. Each refusal names the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.location.msag import parse_msag_csv, parse_msag_files

HEADER = ("msag_id,country,state,county,msag_community,postal_community,zip,pre_dir,"
          "street_name,street_type,post_dir,low,high,parity,esn,exchange,psap_id,"
          "effective_date,expire_date,source\n")
KIFF = "A,US,MT,,RINGLING,,59642,,KIFF,RD,,1,199,O,00120,,,,,\n"
LUCAS = "B,US,MT,,RINGLING,,59642,,LUCAS,RD,,1,99,O,00120,,,,,\n"


def errors(text: str) -> list[tuple[int, str, str]]:
    parsed = parse_msag_csv(text, source_name="msag.csv")
    assert not parsed.ok
    return [(e.line, e.code, e.column) for e in parsed.errors]


@pytest.mark.parametrize("text", [
    HEADER, HEADER + "\n\n , ,\n", HEADER + ",,,,,,,,,,,,,,,,,,,\n"])
def test_a_file_with_a_header_and_no_data_rows_is_refused(text: str) -> None:
    """A header-only (or blank-rows-only) extract would empty the MSAG and make every
    address save fail `not_in_msag`: refused, pointing after the header."""
    parsed = parse_msag_csv(text, source_name="msag.csv")
    assert not parsed.ok
    assert [(e.line, e.code) for e in parsed.errors] == [(2, "no_rows")]
    assert parsed.report_lines()[1] == (
        "error: line 2: msag.csv has a header but no data rows; an import would leave no "
        "MSAG to validate addresses against [no_rows]")


@pytest.mark.parametrize(("cell", "label"), [
    ("KI\x00FF", "NUL"), ("KIFF\x00", "NUL"), ("\x01KIFF", "U+0001"), ("KI\x1bFF", "ESC"),
    ("KI\x0bFF", "U+000B"), ("KI\x1fFF", "U+001F"), ("KI\x7fFF", "U+007F"),
    ("KI\x85FF", "U+0085"), ("KI\u2028FF", "U+2028"), ("KI\u202eFF", "U+202E"),
    ("KI\u200bFF", "U+200B"), ("KI\ufeffFF", "U+FEFF"),
])
def test_control_and_formatting_characters_in_a_cell_are_refused(cell: str,
                                                                  label: str) -> None:
    """NUL (which truncates C strings and PostgreSQL text), other C0/C1 controls and
    invisible or bidirectional formatting characters are refused naming the line, the
    column and the character; the import as a whole is refused."""
    text = HEADER + KIFF + LUCAS.replace("LUCAS", cell)
    parsed = parse_msag_csv(text, source_name="msag.csv")
    assert not parsed.ok
    assert [(e.line, e.code, e.column) for e in parsed.errors] == [
        (3, "forbidden_character", "street_name")]
    assert f"contains {label}" in parsed.errors[0].message


def test_tabs_and_line_breaks_inside_a_quoted_cell_become_spaces() -> None:
    """CSV's own whitespace is not refused: it collapses to one space, as before."""
    parsed = parse_msag_csv(HEADER + LUCAS.replace("LUCAS", '"LU\tCAS\r\n  CREEK"'))
    assert parsed.ok
    assert parsed.rows[0].street_name == "LU CAS CREEK"


def test_a_nul_in_an_ignored_column_or_the_header_is_refused() -> None:
    """Every cell counts, also those of columns the router does not read."""
    extra = HEADER.replace("source\n", "source,notes\n")
    assert errors(extra + KIFF.replace(",\n", ",,ok\x00\n")) == [
        (2, "forbidden_character", "notes")]
    assert errors(HEADER.replace("source", "sou\x00rce") + KIFF) == [
        (1, "forbidden_character", "")]


@pytest.mark.parametrize("number", ["²", "1²", "١٢", "１２", "12\u0663"])
def test_house_numbers_must_be_ascii_digits(number: str) -> None:
    """"²" passed `str.isdigit()` and then crashed `int()`; Arabic-Indic and full-width
    digits were read as numbers. Both are `bad_integer` on their line."""
    assert errors(HEADER + KIFF.replace(",1,199,", f",1,{number},")) == [
        (2, "bad_integer", "high")]


def test_an_empty_file_among_several_is_refused_naming_it(tmp_path: Path) -> None:
    """One file of a multi-state import that lost its rows refuses the whole import."""
    good, empty = tmp_path / "mt.csv", tmp_path / "on.csv"
    good.write_text(HEADER + KIFF)
    empty.write_text(HEADER)
    parsed = parse_msag_files([good, empty])
    assert not parsed.ok
    assert [(e.file, e.line, e.code) for e in parsed.errors] == [("on.csv", 2, "no_rows")]
    assert "error: on.csv line 2: on.csv has a header but no data rows" in \
        "\n".join(parsed.report_lines())
