"""The postal code an address is stored with (and sent to the PSAP with) never contradicts
the MSAG range it validated in: a US ZIP is corrected to the MSAG's with a warning naming
both, a Canadian postal code outside the range's FSA is refused, and so is a ZIP matching
none of the rows of an ESN conflict (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.location.civic import AddressInput
from router.location.msag import MsagIndex, parse_msag_csv
from router.location.validate import ValidationResult, ValidationStatus, validate_address
from tests.support.msag_prattville import prattville, prattville_msag

FIXTURE_CA = (Path(__file__).resolve().parents[2] / "config" / "msag"
              / "msag_fixture_ca_SYNTHETIC.csv")


@pytest.fixture(scope="module")
def index() -> MsagIndex:
    return MsagIndex.from_rows(prattville_msag().rows)


@pytest.fixture(scope="module")
def index_ca() -> MsagIndex:
    return MsagIndex.from_rows(parse_msag_csv(FIXTURE_CA).rows)


def check(index: MsagIndex, **changes: str) -> ValidationResult:
    return validate_address(AddressInput(**prattville(**changes)), index)


def warning(result: ValidationResult, code: str) -> tuple[str, str, tuple[str, ...]]:
    found = [(w.field, w.message, w.suggestions) for w in result.warnings
             if w.code.value == code]
    assert len(found) == 1, result.to_json()
    return found[0]


def test_zip_contradicting_the_msag_range_is_corrected_to_the_msags(index: MsagIndex) -> None:
    """250 E Main St, Prattville, AL 94105: stored as 36067, the warning names both."""
    result = check(index)
    assert result.status is ValidationStatus.VALID, result.to_json()
    assert result.normalized is not None
    assert (result.normalized.postal_code, result.normalized.plus4) == ("36067", "")
    field, message, suggestions = warning(result, "postal_code_corrected")
    assert field == "postal_code"
    assert message == ("postal code 94105 is not the MSAG's for 250 E MAIN ST in PRATTVILLE; "
                       "the MSAG says 36067, so 36067 is used")
    assert suggestions == ("36067",)
    assert "postal_code_differs" not in [w.code.value for w in result.warnings]


def test_corrected_zip_drops_the_plus4_of_the_wrong_zip(index: MsagIndex) -> None:
    """A ZIP+4 belongs to its ZIP: when the ZIP is corrected the +4 goes too, and says so."""
    for typed in ({"postal_code": "94105-1234"}, {"postal_code": "94105", "plus4": "1234"}):
        result = check(index, **typed)
        assert result.normalized is not None, result.to_json()
        assert (result.normalized.postal_code, result.normalized.plus4) == ("36067", "")
        _, message, _ = warning(result, "postal_code_corrected")
        assert message.endswith("; the ZIP+4 add-on 1234 was for 94105 and is dropped")


@pytest.mark.parametrize("postal_code", ["36067", "36067-0001"])
def test_zip_of_the_msag_range_is_kept_without_warning(index: MsagIndex,
                                                       postal_code: str) -> None:
    """The MSAG's own ZIP (with its +4) is stored as typed, no postal-code warning."""
    result = check(index, postal_code=postal_code)
    assert result.normalized is not None, result.to_json()
    assert result.normalized.postal_code == "36067"
    assert result.warnings == ()


def test_other_zip_of_the_same_city_is_corrected_too(index: MsagIndex) -> None:
    """36066 is Prattville, but not E Main St's: the range decides, not the city."""
    result = check(index, postal_code="36066")
    assert result.normalized is not None and result.normalized.postal_code == "36067"
    assert warning(result, "postal_code_corrected")[2] == ("36067",)


def test_range_without_a_zip_keeps_the_typed_one(index: MsagIndex) -> None:
    """An MSAG row with no ZIP says nothing about it: the typed ZIP stays."""
    result = check(index, house_number="10", street="No Zip Rd", postal_code="36068")
    assert result.normalized is not None, result.to_json()
    assert result.normalized.postal_code == "36068"
    assert result.warnings == ()


def test_esn_conflict_with_a_zip_of_neither_row_is_refused(index: MsagIndex) -> None:
    """151 Doster Rd is in two ESNs whose rows carry 36066 and 36067; 94105 picks neither
    ZIP (nor ESN): refused, both ZIPs offered (either one also resolves the ESN)."""
    result = check(index, house_number="151", street="Doster Rd")
    assert result.status is ValidationStatus.INVALID
    assert [(e.field, e.code.value, e.suggestions) for e in result.errors] == [
        ("postal_code", "postal_code_not_in_msag", ("36066", "36067"))]
    assert result.errors[0].message == (
        "postal code 94105 is not one of the MSAG's for 151 DOSTER RD in PRATTVILLE "
        "(36066, 36067); enter the address's ZIP code")
    resolved = check(index, house_number="151", street="Doster Rd", postal_code="36066")
    assert resolved.msag is not None and resolved.msag.esn == "01010"


def test_canadian_postal_code_outside_the_ranges_fsa_is_refused(index_ca: MsagIndex) -> None:
    """24 Sussex Dr is in FSA K1M; K2P 1A1 (also Ottawa) cannot be corrected from an FSA
    alone, so it is refused."""
    result = validate_address(AddressInput(
        country="CA", house_number="24", street="Sussex Dr", city="Ottawa", state="ON",
        postal_code="K2P 1A1"), index_ca)
    assert [(e.field, e.code.value, e.suggestions) for e in result.errors] == [
        ("postal_code", "postal_code_not_in_msag", ("K1M",))]
    assert result.errors[0].message == (
        "postal code K2P 1A1 is not in the MSAG's area for 24 SUSSEX DR in OTTAWA (K1M); "
        "enter the address's postal code")


def test_canadian_postal_code_is_corrected_when_the_msag_has_the_whole_code() -> None:
    """An extract that carries the full code (FORMAT.md allows it) can correct one from
    another FSA: K2P 1A1 becomes the range's K1M 1M4, with the warning naming both."""
    full = parse_msag_csv(FIXTURE_CA.read_text().replace(",K1M,", ",K1M 1M4,"))
    result = validate_address(AddressInput(
        country="CA", house_number="24", street="Sussex Dr", city="Ottawa", state="ON",
        postal_code="K2P 1A1"), MsagIndex.from_rows(full.rows))
    assert result.normalized is not None, result.to_json()
    assert result.normalized.postal_code == "K1M 1M4"
    assert warning(result, "postal_code_corrected")[1] == (
        "postal code K2P 1A1 is not the MSAG's for 24 SUSSEX DR in OTTAWA; the MSAG says "
        "K1M 1M4, so K1M 1M4 is used")
