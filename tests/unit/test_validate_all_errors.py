"""Every field error of an address comes back in one answer (issue 18): a missing or
malformed field never hides another field's problem, so one correction round fixes the
form."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.location.civic import AddressInput
from router.location.msag import MsagIndex, parse_msag_files
from router.location.validate import ValidationResult, validate_address

MSAG_DIR = Path(__file__).resolve().parents[2] / "config" / "msag"


@pytest.fixture(scope="module")
def index() -> MsagIndex:
    return MsagIndex.from_rows(parse_msag_files(sorted(MSAG_DIR.glob("*.csv"))).rows)


def codes(result: ValidationResult) -> list[tuple[str, str]]:
    return [(e.field, e.code.value) for e in result.errors]


def test_empty_address_names_every_required_field(index: MsagIndex) -> None:
    """Only a country: state, postal code, house number, street and city all reported."""
    result = validate_address(AddressInput(country="US"), index)
    assert codes(result) == [
        ("state", "required"), ("postal_code", "required"), ("street", "required"),
        ("city", "required"), ("house_number", "missing_house_number")]


def test_city_is_not_required_when_the_zip_can_give_it(index: MsagIndex) -> None:
    """An empty city with a ZIP is not an error by itself (the ZIP names the community)."""
    result = validate_address(AddressInput(country="US", state="MT", postal_code="59645",
                                           house_number="301", street="E Laramie St"), index)
    assert result.errors == (), result.to_json()


def test_forbidden_character_does_not_hide_the_other_fields(index: MsagIndex) -> None:
    """A '<' in street2 is reported together with a bad state, a bad ZIP and a PO box."""
    result = validate_address(AddressInput(
        country="US", house_number="301", street="PO Box 12", street2="Suite <4>",
        city="White Sulphur Springs", state="Montanna", postal_code="5964"), index)
    assert codes(result) == [
        ("street2", "forbidden_character"), ("state", "unknown_state"),
        ("postal_code", "bad_postal_code"), ("street", "po_box")]


def test_field_with_a_forbidden_character_is_not_checked_twice(index: MsagIndex) -> None:
    """A field refused for its characters gets that one error, not a second one."""
    result = validate_address(AddressInput(
        country="US", house_number="3\n01", street="E Laramie St",
        city="White Sulphur Springs", state="MT", postal_code="59645"), index)
    assert codes(result) == [("house_number", "forbidden_character")]
