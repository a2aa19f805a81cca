"""Postal-city aliases: one USPS city can stand for several MSAG communities; the street and
number decide which, and a tie is refused rather than guessed."""

from __future__ import annotations

import pytest

from router.location.civic import AddressInput
from router.location.msag import MsagIndex, parse_msag_csv
from router.location.validate import validate_address

ALIASED = (
    "msag_id,country,state,county,msag_community,postal_community,zip,pre_dir,street_name,"
    "street_type,post_dir,low,high,parity,esn,exchange,psap_id,effective_date,expire_date,"
    "source\n"
    "H1,US,MT,LEWIS AND CLARK,HELENA,HELENA,59601,,MAIN,ST,,1,999,B,00201,,,,,test\n"
    "H2,US,MT,LEWIS AND CLARK,HELENA VALLEY,HELENA,59602,,MAIN,ST,,1000,1999,B,00202,,,,,test\n"
    "H3,US,MT,LEWIS AND CLARK,HELENA VALLEY,HELENA,59602,,ORE,RD,,1,99,B,00202,,,,,test\n"
    "H4,US,MT,LEWIS AND CLARK,HELENA,HELENA,59601,,ORE,RD,,1,99,B,00201,,,,,test\n"
)


@pytest.fixture(scope="module")
def index() -> MsagIndex:
    parsed = parse_msag_csv(ALIASED)
    assert parsed.ok
    return MsagIndex.from_rows(parsed.rows)


def helena(number: str, street: str, city: str = "Helena") -> AddressInput:
    return AddressInput(country="US", house_number=number, street=street, city=city,
                        state="MT", postal_code="59601")


def test_postal_city_finds_the_community_that_has_the_number(index: MsagIndex) -> None:
    """ "Helena" covers both communities; 1500 Main St is only in HELENA VALLEY."""
    result = validate_address(helena("1500", "Main St"), index)
    assert result.normalized is not None
    assert (result.normalized.city, result.normalized.postal_community) == (
        "HELENA VALLEY", "HELENA")
    assert result.msag is not None and result.msag.esn == "00202"


def test_same_street_and_number_in_two_communities_is_ambiguous(index: MsagIndex) -> None:
    """50 Ore Rd exists in both communities behind "Helena": the user names the community."""
    result = validate_address(helena("50", "Ore Rd"), index)
    assert [(e.field, e.code.value) for e in result.errors] == [
        ("city", "ambiguous_community")]
    assert result.errors[0].suggestions == ("HELENA", "HELENA VALLEY")


def test_naming_the_msag_community_resolves_it(index: MsagIndex) -> None:
    """With the MSAG community as the city, 50 Ore Rd is one row."""
    result = validate_address(helena("50", "Ore Rd", city="Helena Valley"), index)
    assert result.msag is not None
    assert (result.msag.msag_id, result.msag.esn) == ("H3", "00202")
