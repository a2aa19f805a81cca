"""The stored MSAG extract: replaced atomically, loaded back exactly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from router.db.errors import InvalidValue, MsagRejected
from router.location.msag import MsagImport, MsagIssue, MsagRow, parse_msag_csv
from router.store.store import Store

REPO = Path(__file__).resolve().parents[2]
SAMPLE_NAME = "msag_sample_mt_30059.csv"


def sample_path() -> Path:
    """The Meagher County sample shipped in config/msag (config/msag/PROVENANCE.md)."""
    return REPO / "config" / "msag" / SAMPLE_NAME


def row(msag_id: str, line: int, **changes: object) -> MsagRow:
    base = MsagRow(
        msag_id=msag_id, country="US", state="MT", county="MEAGHER",
        msag_community="WHITE SULPHUR SPRINGS", postal_community="WHITE SULPHUR SPRINGS",
        zip="59645", pre_dir="E", street_name="LARAMIE", street_type="ST", low=100, high=198,
        parity="E", esn="00100", source="test", line=line,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def extract(*rows: MsagRow, name: str = "test.csv") -> MsagImport:
    return MsagImport(rows=tuple(rows), errors=(), overlaps=(), source_name=name,
                      sha256="0" * 64)


def test_no_extract_before_the_first_import(store: Store) -> None:
    """A new store has no MSAG rows and no version."""
    assert store.load_msag_rows() == []
    assert store.msag_version() is None


def test_sample_extract_round_trips_exactly(store: Store) -> None:
    """Every row of the Montana sample comes back equal, in file order."""
    parsed = parse_msag_csv(sample_path())
    assert parsed.ok
    version = store.replace_msag(parsed)
    assert (version.row_count, version.source) == (len(parsed.rows), SAMPLE_NAME)
    assert store.load_msag_rows() == list(parsed.rows)
    current = store.msag_version()
    assert current is not None
    assert (current.version, current.overlap_count) == (version.version, len(parsed.overlaps))


def test_reimport_replaces_the_whole_extract(store: Store) -> None:
    """The second import's rows are all that remain; the version moves on."""
    v1 = store.replace_msag(extract(row("A", 2), row("B", 3, low=101, high=199, parity="O")))
    v2 = store.replace_msag(extract(row("C", 2, street_name="MAIN"), name="second.csv"))
    assert v2.version > v1.version
    assert [r.msag_id for r in store.load_msag_rows()] == ["C"]
    latest = store.msag_version()
    assert latest is not None and latest.source == "second.csv"


def test_failure_in_the_middle_leaves_the_old_extract(store: Store) -> None:
    """A row the database rejects (low > high) after good ones rolls the whole import back."""
    old = extract(row("A", 2), row("B", 3, low=101, high=199, parity="O"))
    store.replace_msag(old)
    version_before = store.msag_version()
    bad = extract(
        *(row(f"N{i}", i + 2, street_name="NEW") for i in range(50)),
        row("BROKEN", 60, low=500, high=100),
        row("N-after", 61, street_name="NEW"),
    )
    with pytest.raises(MsagRejected, match="low_le_high"):
        store.replace_msag(bad)
    assert store.load_msag_rows() == list(old.rows)
    assert store.msag_version() == version_before


def test_duplicate_msag_id_in_the_middle_leaves_the_old_extract(store: Store) -> None:
    """A duplicate key (the parser normally catches it) is still refused by the database."""
    store.replace_msag(extract(row("A", 2)))
    with pytest.raises(MsagRejected, match="nothing changed"):
        store.replace_msag(extract(row("X", 2), row("Y", 3), row("X", 4)))
    assert [r.msag_id for r in store.load_msag_rows()] == ["A"]


def test_import_with_parse_errors_is_refused(store: Store) -> None:
    """An MsagImport that is not ok never reaches the table."""
    store.replace_msag(extract(row("A", 2)))
    failed = MsagImport(
        rows=(row("Z", 2),),
        errors=(MsagIssue(line=3, code="low_gt_high", message="low > high"),),
        overlaps=(),
    )
    with pytest.raises(InvalidValue, match="1 error"):
        store.replace_msag(failed)
    assert [r.msag_id for r in store.load_msag_rows()] == ["A"]
