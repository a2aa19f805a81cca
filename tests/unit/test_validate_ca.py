"""Address validation on the Canadian path (synthetic fixture): provinces, postal codes that
must match their province, French type-first street names, unit-civic numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.location.civic import AddressInput
from router.location.msag import MsagIndex, parse_msag_csv
from router.location.validate import ValidationResult, ValidationStatus, validate_address

FIXTURE_CA = (Path(__file__).resolve().parents[2] / "config" / "msag"
              / "msag_fixture_ca_SYNTHETIC.csv")


@pytest.fixture(scope="module")
def index() -> MsagIndex:
    return MsagIndex.from_rows(parse_msag_csv(FIXTURE_CA).rows)


def ottawa(**changes: str) -> AddressInput:
    base = {"country": "CA", "house_number": "24", "street": "Sussex Drive",
            "city": "Ottawa", "state": "ON", "postal_code": "K1M 1M4"}
    return AddressInput(**{**base, **changes})


def gatineau(**changes: str) -> AddressInput:
    base = {"country": "CA", "house_number": "25", "street": "rue Laurier",
            "city": "Gatineau", "state": "QC", "postal_code": "J8X 3V9"}
    return AddressInput(**{**base, **changes})


def codes(result: ValidationResult) -> list[tuple[str, str]]:
    return [(e.field, e.code.value) for e in result.errors]


@pytest.mark.parametrize(("fields", "number", "esn_row"), [
    ({}, "24", "SYN-CA-000001"),
    ({"house_number": "25"}, "25", "SYN-CA-000002"),
    ({"street": "SUSSEX DR", "postal_code": "k1m1m4", "state": "Ontario"}, "24",
     "SYN-CA-000001"),
    ({"country": "Canada", "street": "sussex dr."}, "24", "SYN-CA-000001"),
])
def test_ottawa_sussex_drive_is_valid(index: MsagIndex, fields: dict[str, str], number: str,
                                      esn_row: str) -> None:
    """24 Sussex Drive, Ottawa ON K1M 1M4, in several spellings, on the right side."""
    result = validate_address(ottawa(**fields), index)
    assert result.status is ValidationStatus.VALID, result.to_json()
    civic = result.normalized
    assert civic is not None
    assert (civic.country, civic.state, civic.house_number, civic.street_name,
            civic.street_suffix, civic.city, civic.postal_code) == (
        "CA", "ON", number, "SUSSEX", "DR", "OTTAWA", "K1M 1M4")
    assert result.msag is not None
    assert (result.msag.msag_id, result.msag.esn, result.msag.psap_id) == (
        esn_row, "90010", "SYN-PSAP-OTT")


@pytest.mark.parametrize("street", ["rue Laurier", "Rue Laurier", "RUE LAURIER"])
def test_gatineau_rue_laurier_type_comes_first(index: MsagIndex, street: str) -> None:
    """French type-first names: "rue Laurier" is name LAURIER, type RUE."""
    result = validate_address(gatineau(street=street), index)
    assert result.normalized is not None, result.to_json()
    assert (result.normalized.street_name, result.normalized.street_suffix,
            result.normalized.state) == ("LAURIER", "RUE", "QC")
    assert result.msag is not None and result.msag.esn == "90020"


def test_quebec_in_french_is_qc(index: MsagIndex) -> None:
    """The province may be written "Québec"."""
    result = validate_address(gatineau(state="Québec"), index)
    assert result.normalized is not None and result.normalized.state == "QC"


def test_toronto_boulevard_is_blvd(index: MsagIndex) -> None:
    """Canada Post abbreviates Boulevard (English) as BLVD."""
    result = validate_address(AddressInput(country="CA", house_number="100",
                                           street="Bremner Boulevard", city="Toronto",
                                           state="ON", postal_code="M5V 3L9"), index)
    assert result.normalized is not None
    assert (result.normalized.street_name, result.normalized.street_suffix) == (
        "BREMNER", "BLVD")


def test_postal_code_of_another_province_is_refused(index: MsagIndex) -> None:
    """An Ontario postal code (K) on a Quebec address names both provinces."""
    result = validate_address(gatineau(postal_code="K1M 1M4"), index)
    assert codes(result) == [("postal_code", "postal_code_province_mismatch")]
    assert result.errors[0].message == (
        "postal code K1M 1M4 is in ON, not QC; QC postal codes start with G/H/J. Check the "
        "postal code or the province")
    assert result.errors[0].suggestions == ("ON",)


@pytest.mark.parametrize("postal_code", ["K1M 1M", "D1M 1M4", "K1M-1M4X", "12345", "KIM 1M4"])
def test_malformed_canadian_postal_codes_are_refused(index: MsagIndex,
                                                     postal_code: str) -> None:
    """A1A 1A1 with Canada Post's letters only."""
    assert codes(validate_address(ottawa(postal_code=postal_code), index)) == [
        ("postal_code", "bad_postal_code")]


def test_plus4_is_refused_for_canada(index: MsagIndex) -> None:
    """plus4 belongs to US ZIP codes."""
    assert codes(validate_address(ottawa(plus4="1234"), index)) == [("plus4", "bad_plus4")]


def test_unit_civic_number_splits_into_unit_and_number(index: MsagIndex) -> None:
    """Canada Post's "210-24" is unit 210 at number 24."""
    result = validate_address(ottawa(house_number="210-24"), index)
    assert result.normalized is not None
    assert (result.normalized.house_number, result.normalized.unit) == ("24", "UNIT 210")
    assert [w.code.value for w in result.warnings] == ["unit_from_house_number"]


def test_us_state_in_canada_is_refused(index: MsagIndex) -> None:
    """MT is not a Canadian province."""
    result = validate_address(ottawa(state="MT"), index)
    assert codes(result) == [("state", "unknown_state")]
