"""`e911-router msag import` (the real command, in a subprocess) refuses an empty or
NUL-bearing extract and leaves the MSAG in force untouched, on SQLite and PostgreSQL
(issue 13, finding 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.db.errors import InvalidValue
from router.location.model import MsagVersion
from router.location.msag import MsagImport, parse_msag_csv
from router.store.store import Store
from tests.support.msag_import import HEADER, SAMPLE, msag_import

ROOT = Path(__file__).resolve().parents[2]
ROW = SAMPLE.read_text(encoding="utf-8").splitlines()[1] + "\n"


def in_force(store: Store) -> tuple[MsagVersion | None, int]:
    return store.msag_version(), len(store.load_msag_rows())


@pytest.fixture
def imported(store: Store) -> tuple[MsagVersion | None, int]:
    """The sample extract in force: what must survive a refusal."""
    store.replace_msag(parse_msag_csv(SAMPLE))
    before = in_force(store)
    assert before[0] is not None and before[1] > 400
    return before


@pytest.mark.parametrize(("content", "line", "what"), [
    (HEADER, 2, "has a header but no data rows"),
    (HEADER + "\n \n", 2, "has a header but no data rows"),
    (HEADER + ROW.replace("1ST", "1\x00ST"), 2, "street_name contains NUL"),
    (HEADER + ROW + ROW.replace("000001", "900001").replace("MEAGHER", "MEA\x1bGHER"),
     3, "county contains ESC"),
    (HEADER + ROW.replace("TIGER2024-ADDRFEAT-30059-000001", "X\u202eY"), 2,
     "msag_id contains U+202E"),
])
def test_import_of_an_empty_or_control_bearing_file_is_refused(
    store: Store, store_url: str, imported: tuple[MsagVersion | None, int], tmp_path: Path,
    content: str, line: int, what: str,
) -> None:
    """Exit 1 with an error naming the file and the line; the version and rows in force
    are exactly those before the attempt."""
    bad = tmp_path / "county_export.csv"
    bad.write_text(content, encoding="utf-8")
    done = msag_import(store_url, bad)
    assert done.code == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[0].startswith("county_export.csv: "), done.stdout
    assert ", 1 errors, " in done.stdout.splitlines()[0], done.stdout
    error = done.stdout.splitlines()[1]
    assert error.startswith(f"error: line {line}"), done.stdout
    assert what in error, done.stdout
    assert done.stdout.splitlines()[-1] == "refused: fix the errors above; nothing was changed"
    assert in_force(store) == imported


def test_an_empty_file_in_a_multi_file_import_refuses_all_of_it(
    store: Store, store_url: str, imported: tuple[MsagVersion | None, int], tmp_path: Path,
) -> None:
    """The good file of the pair is not imported alone: the error names the empty one."""
    empty = tmp_path / "on.csv"
    empty.write_text(HEADER, encoding="utf-8")
    done = msag_import(store_url, SAMPLE, empty)
    assert done.code == 1
    assert "error: on.csv line 2: on.csv has a header but no data rows" in done.stdout
    assert in_force(store) == imported


def test_the_store_refuses_an_extract_without_rows(
    store: Store, imported: tuple[MsagVersion | None, int],
) -> None:
    """`Store.replace_msag` itself refuses an `MsagImport` with no rows, whoever built it."""
    with pytest.raises(InvalidValue):
        store.replace_msag(MsagImport(rows=(), errors=(), overlaps=(), source_name="x.csv"))
    assert in_force(store) == imported
