"""Canada Post's unit-civic form, wherever the user types it: `10-24 Sussex Dr` and
`Apt 10 24 Sussex Dr` are unit 10 at civic number 24 (issue 18; synthetic Canadian MSAG)."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.location.civic import AddressInput
from router.location.msag import MsagIndex, parse_msag_csv
from router.location.validate import ValidationStatus, validate_address

FIXTURE_CA = (Path(__file__).resolve().parents[2] / "config" / "msag"
              / "msag_fixture_ca_SYNTHETIC.csv")


@pytest.fixture(scope="module")
def index() -> MsagIndex:
    return MsagIndex.from_rows(parse_msag_csv(FIXTURE_CA).rows)


def sussex(house_number: str, street: str, country: str = "CA") -> AddressInput:
    return AddressInput(country=country, house_number=house_number, street=street,
                        city="Ottawa", state="ON", postal_code="K1M 1M4")


@pytest.mark.parametrize(("house_number", "street", "unit", "field"), [
    ("", "10-24 Sussex Dr", "UNIT 10", "street"),
    ("", "10 - 24 Sussex Drive", "UNIT 10", "street"),
    ("", "Apt 10 24 Sussex Dr", "APT 10", "street"),
    ("", "Apt. 10, 24 Sussex Dr", "APT 10", "street"),
    ("", "Unit 10-24 Sussex Dr", "UNIT 10", "street"),
    ("", "#10-24 Sussex Dr", "# 10", "street"),
    ("", "app 10 24 Sussex Drive", "APP 10", "street"),
    ("10-24", "Sussex Dr", "UNIT 10", "house_number"),
    ("Apt 10 24", "Sussex Dr", "APT 10", "house_number"),
    ("Suite 10-24", "Sussex Dr", "STE 10", "house_number"),
    ("10A-24", "Sussex Dr", "UNIT 10A", "house_number"),
])
def test_unit_civic_form_is_unit_and_civic_number(index: MsagIndex, house_number: str,
                                                  street: str, unit: str, field: str) -> None:
    """Unit first, then the civic number, in the street line or the number field."""
    result = validate_address(sussex(house_number, street), index)
    assert result.status is ValidationStatus.VALID, result.to_json()
    civic = result.normalized
    assert civic is not None
    assert (civic.house_number, civic.unit, civic.street_name, civic.street_suffix) == (
        "24", unit, "SUSSEX", "DR")
    assert result.msag is not None and result.msag.msag_id == "SYN-CA-000001"
    assert [(w.field, w.code.value) for w in result.warnings] == [
        (field, "unit_from_house_number")]
    assert "unit" in result.warnings[0].message and "24" in result.warnings[0].message


def test_unit_civic_street2_unit_wins(index: MsagIndex) -> None:
    """A unit also typed in street2 is the one kept (it is the explicit one)."""
    result = validate_address(AddressInput(
        country="CA", house_number="", street="10-24 Sussex Dr", street2="Suite 300",
        city="Ottawa", state="ON", postal_code="K1M 1M4"), index)
    assert result.normalized is not None, result.to_json()
    assert (result.normalized.house_number, result.normalized.unit) == ("24", "STE 300")


def test_plain_number_in_the_street_line_is_still_missing_house_number(
        index: MsagIndex) -> None:
    """`24 Sussex Dr` with no number field stays refused: names like "71 RANCH RD" start
    with a number, so a lone leading number is not taken for the civic number."""
    result = validate_address(sussex("", "24 Sussex Dr"), index)
    assert [(e.field, e.code.value) for e in result.errors] == [
        ("house_number", "missing_house_number")]


def test_us_hyphenated_number_is_not_read_as_unit_civic(index: MsagIndex) -> None:
    """Queens-style `10-24` is one US house number, never a Canadian unit-civic pair."""
    result = validate_address(AddressInput(
        country="US", house_number="", street="10-24 Main St", city="Ottawa", state="NY",
        postal_code="11101"), index)
    assert ("house_number", "missing_house_number") in [
        (e.field, e.code.value) for e in result.errors]
