"""The in-memory MSAG index and ESN resolution: ranges by parity, postal-city aliases, and
never an ESN picked at random where the MSAG overlaps."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from router.location.msag import MsagIndex, MsagRow, parse_msag_csv, resolve_esn

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "msag" / "msag_sample_mt_30059.csv"
WSS = ("US", "MT", "WHITE SULPHUR SPRINGS")


@pytest.fixture(scope="module")
def sample_index() -> MsagIndex:
    return MsagIndex.from_rows(parse_msag_csv(SAMPLE).rows)


def row(msag_id: str, low: int, high: int, parity: str, esn: str, zip_code: str = "",
        line: int = 0, **kw: str) -> MsagRow:
    return MsagRow(msag_id=msag_id, country="US", state="MT", msag_community="X",
                   street_name="MAIN", street_type="ST", low=low, high=high, parity=parity,
                   esn=esn, zip=zip_code, line=line, **kw)


def test_covering_respects_parity(sample_index: MsagIndex) -> None:
    """301 E LARAMIE ST is on the odd row; 300 on the even one; 801 on none."""
    street = ("E", "LARAMIE", "ST", "")
    assert [r.msag_id for r in sample_index.covering(WSS, street, 301)] == [
        "TIGER2024-ADDRFEAT-30059-000306"]
    assert [r.msag_id for r in sample_index.covering(WSS, street, 300)] == [
        "TIGER2024-ADDRFEAT-30059-000305"]
    assert sample_index.covering(WSS, street, 801) == ()


def test_street_keys_list_every_directional_variant(sample_index: MsagIndex) -> None:
    """MAIN in White Sulphur Springs is E MAIN ST, MAIN ST W and W MAIN ST."""
    assert sample_index.street_keys(WSS, "MAIN") == (
        ("", "MAIN", "ST", "W"), ("E", "MAIN", "ST", ""), ("W", "MAIN", "ST", ""))


def test_postal_community_and_zip_point_at_the_msag_community(sample_index: MsagIndex) -> None:
    """The postal city and the ZIP both lead to the MSAG community; the county-level
    community MEAGHER has no ZIP."""
    assert sample_index.communities_for("US", "MT", "RINGLING") == ("RINGLING",)
    assert sample_index.communities_for_zip("US", "59642") == (("US", "MT", "RINGLING"),)
    assert sample_index.communities_for_zip("US", "59645-1234") == (WSS,)
    assert sample_index.communities_for("US", "MT", "MEAGHER") == ("MEAGHER",)
    assert sample_index.row_count == 476


def test_similar_street_names_find_the_laramie_larime_pair(sample_index: MsagIndex) -> None:
    """LARAMIE and LARIME are flagged as confusable; numbered streets are not."""
    assert sample_index.similar_street_names(WSS, "LARAMIE") == ("LARIME",)
    assert sample_index.similar_street_names(WSS, "STUDHORSE") == ("STUD HORSE",)
    assert sample_index.similar_street_names(WSS, "4TH") == ()


def test_one_esn_resolves_by_range() -> None:
    """Rows agreeing on the ESN are no conflict; the odd row beats the both-sides row."""
    odd, both = row("A", 1, 99, "O", "001"), row("B", 1, 199, "B", "001")
    result = resolve_esn((both, odd))
    assert (result.row, result.resolved_by, result.conflict) == (odd, "range", False)


def test_different_esns_without_zip_are_a_conflict() -> None:
    """Two ESNs cover the address and no ZIP tells them apart: no row, both reported."""
    a, b = row("A", 1, 99, "O", "001", "59645"), row("B", 51, 151, "O", "002", "59645")
    result = resolve_esn((a, b), "59645")
    assert result.row is None
    assert result.conflict
    assert result.covering == (a, b)


def test_zip_matching_exactly_one_esn_resolves_the_conflict() -> None:
    """The ZIP that matches only one of the overlapping rows picks it, and says so."""
    a, b = row("A", 1, 99, "O", "001", "59645"), row("B", 51, 151, "O", "002", "59642")
    result = resolve_esn((a, b), "59642")
    assert (result.row, result.resolved_by) == (b, "zip")
    assert resolve_esn((a, b), "59053").row is None


def test_index_covering_finds_rows_among_many_ranges() -> None:
    """The bisect bound on the widest span still finds a long range that starts early."""
    rows = [row(f"R{i}", i * 10, i * 10 + 8, "E", "001") for i in range(1, 200)]
    rows.append(row("LONG", 0, 5000, "O", "002"))
    index = MsagIndex.from_rows(rows)
    key = ("", "MAIN", "ST", "")
    community = ("US", "MT", "X")
    assert [r.msag_id for r in index.covering(community, key, 1503)] == ["LONG"]
    assert [r.msag_id for r in index.covering(community, key, 1504)] == ["R150"]
    assert [r.msag_id for r in index.covering(community, key, 1509)] == ["LONG"]
    assert index.covering(community, key, 5001) == ()


def test_as_of_leaves_out_rows_not_in_force() -> None:
    """With an as-of date, expired and future rows are not indexed."""
    rows = [row("OLD", 1, 99, "B", "001", expire_date="2020-01-01"),
            row("NEW", 1, 99, "B", "002", effective_date="2030-01-01"),
            row("NOW", 1, 99, "B", "003", effective_date="2020-01-01")]
    index = MsagIndex.from_rows(rows, as_of=date(2025, 6, 1))
    assert [r.msag_id for r in index.covering(("US", "MT", "X"), ("", "MAIN", "ST", ""), 5)] \
        == ["NOW"]
