"""Addresses inside an MSAG ESN overlap: accepted (the address exists), never given an ESN at
random; the ZIP resolves the conflict only when it matches exactly one ESN."""

from __future__ import annotations

import pytest

from router.location.civic import AddressInput
from router.location.msag import MsagIndex, parse_msag_csv
from router.location.validate import EsnCandidate, ValidationStatus, validate_address

OVERLAPPING = (
    "msag_id,country,state,county,msag_community,postal_community,zip,pre_dir,street_name,"
    "street_type,post_dir,low,high,parity,esn,exchange,psap_id,effective_date,expire_date,"
    "source\n"
    "A,US,MT,MEAGHER,RINGLING,RINGLING,59642,,KIFF,RD,,1,199,O,00120,,PSAP-A,,,test\n"
    "B,US,MT,BROADWATER,RINGLING,RINGLING,59644,,KIFF,RD,,101,299,O,00140,,PSAP-B,,,test\n"
    "C,US,MT,MEAGHER,RINGLING,RINGLING,59642,,KIFF,RD,,2,298,E,00120,,PSAP-A,,,test\n"
)


@pytest.fixture(scope="module")
def index() -> MsagIndex:
    parsed = parse_msag_csv(OVERLAPPING)
    assert parsed.ok
    assert [(o.first.line, o.second.line, o.low, o.high) for o in parsed.overlaps] == [
        (2, 3, 101, 199)]
    return MsagIndex.from_rows(parsed.rows)


def kiff(number: str, postal_code: str) -> AddressInput:
    return AddressInput(country="US", house_number=number, street="Kiff Rd", city="Ringling",
                        state="MT", postal_code=postal_code)


def test_address_outside_the_overlap_gets_its_esn(index: MsagIndex) -> None:
    """51 Kiff Rd is only in row A: ESN 00120 by range."""
    result = validate_address(kiff("51", "59642"), index)
    assert result.msag is not None
    assert (result.msag.msag_id, result.msag.esn, result.msag.resolved_by) == (
        "A", "00120", "range")


@pytest.fixture(scope="module")
def index_one_zip() -> MsagIndex:
    """The same overlap with both rows in ZIP 59642: the ZIP cannot pick an ESN."""
    parsed = parse_msag_csv(OVERLAPPING.replace(",59644,", ",59642,"))
    assert parsed.ok
    return MsagIndex.from_rows(parsed.rows)


def test_overlap_with_a_zip_of_both_rows_is_valid_without_esn(
        index_one_zip: MsagIndex) -> None:
    """151 Kiff Rd with the ZIP both overlapping rows carry: valid, no ESN, esn_conflict
    naming both candidates."""
    result = validate_address(kiff("151", "59642"), index_one_zip)
    assert result.status is ValidationStatus.VALID
    assert result.normalized is not None and result.normalized.county == ""
    msag = result.msag
    assert msag is not None
    assert (msag.msag_id, msag.esn, msag.psap_id, msag.resolved_by) == ("", "", "", "")
    assert (msag.low, msag.high, msag.parity) == (101, 199, "O")
    assert msag.conflicts == (EsnCandidate("A", "00120", "PSAP-A", "59642", 2),
                              EsnCandidate("B", "00140", "PSAP-B", "59642", 3))
    codes = [w.code.value for w in result.warnings]
    assert "esn_conflict" in codes
    conflict = result.warnings[codes.index("esn_conflict")]
    assert conflict.suggestions == ("ESN 00120 (A)", "ESN 00140 (B)")
    assert result.to_json()["msag"]["conflicts"] == [
        {"msag_id": "A", "esn": "00120", "psap_id": "PSAP-A", "zip": "59642", "line": 2},
        {"msag_id": "B", "esn": "00140", "psap_id": "PSAP-B", "zip": "59642", "line": 3}]


def test_overlap_with_a_zip_of_neither_row_is_refused(index: MsagIndex) -> None:
    """151 Kiff Rd in 59645: neither overlapping row's ZIP, so no ZIP the MSAG vouches for
    could be stored: refused, offering both (either also resolves the ESN)."""
    result = validate_address(kiff("151", "59645"), index)
    assert [(e.field, e.code.value, e.suggestions) for e in result.errors] == [
        ("postal_code", "postal_code_not_in_msag", ("59642", "59644"))]


@pytest.mark.parametrize(("postal_code", "msag_id", "esn"), [
    ("59642", "A", "00120"), ("59644", "B", "00140")])
def test_zip_matching_one_row_resolves_the_overlap(index: MsagIndex, postal_code: str,
                                                   msag_id: str, esn: str) -> None:
    """The ZIP of exactly one overlapping row picks it, with a warning that says so."""
    result = validate_address(kiff("151", postal_code), index)
    assert result.msag is not None
    assert (result.msag.msag_id, result.msag.esn, result.msag.resolved_by) == (
        msag_id, esn, "zip")
    assert [w.code.value for w in result.warnings] == ["esn_resolved_by_postal_code"]


def test_even_side_is_not_in_the_overlap(index: MsagIndex) -> None:
    """150 Kiff Rd is on the even row C only: no conflict."""
    result = validate_address(kiff("150", "59645"), index)
    assert result.msag is not None
    assert (result.msag.msag_id, result.msag.esn) == ("C", "00120")
    assert [w.code.value for w in result.warnings] == ["postal_code_corrected"]
    assert result.normalized is not None and result.normalized.postal_code == "59642"
