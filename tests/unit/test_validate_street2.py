"""street2 (suite, floor, room, building) for the dispatchable location, and the characters
no field may carry into a SIP message or a PIDF-LO body."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.location.civic import AddressInput
from router.location.msag import MsagIndex, parse_msag_csv
from router.location.validate import Secondary, parse_street2, validate_address

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "msag" / "msag_sample_mt_30059.csv"


@pytest.fixture(scope="module")
def index() -> MsagIndex:
    return MsagIndex.from_rows(parse_msag_csv(SAMPLE).rows)


def wss(**changes: str) -> AddressInput:
    base = {"country": "US", "house_number": "301", "street": "E Laramie St",
            "city": "White Sulphur Springs", "state": "MT", "postal_code": "59645"}
    return AddressInput(**{**base, **changes})


@pytest.mark.parametrize(("text", "expected"), [
    ("Suite 210", Secondary(unit="STE 210")),
    ("Ste. 210", Secondary(unit="STE 210")),
    ("Apartment 4B", Secondary(unit="APT 4B")),
    ("#12", Secondary(unit="# 12")),
    ("Floor 2", Secondary(floor="2")),
    ("2nd Floor", Secondary(floor="2")),
    ("Fl 3rd", Secondary(floor="3")),
    ("Room 5", Secondary(room="5")),
    ("Rm 101", Secondary(room="101")),
    ("Building 3", Secondary(building="3")),
    ("Bldg C, Floor 2, Suite 210", Secondary(unit="STE 210", floor="2", building="C")),
    ("Rear", Secondary(unit="REAR")),
    ("Basement", Secondary(unit="BSMT")),
    ("Back door by the loading dock", Secondary(location_info="Back door by the loading dock")),
    ("Suite 210 near elevator", Secondary(unit="STE 210", location_info="near elevator")),
    ("Bureau 300", Secondary(unit="BUREAU 300")),
    ("", Secondary()),
])
def test_street2_is_split_and_abbreviated_the_usps_way(text: str, expected: Secondary) -> None:
    """Pub 28 C2 designators become unit/floor/room/building; the rest is location_info."""
    assert parse_street2(text) == expected


def test_street2_lands_in_the_normalized_address(index: MsagIndex) -> None:
    """A valid address keeps building, floor and suite as PIDF-LO fields."""
    result = validate_address(wss(street2="Building 3 Floor 2 Suite 210"), index)
    civic = result.normalized
    assert civic is not None
    assert (civic.building, civic.floor, civic.unit, civic.room, civic.location_info) == (
        "3", "2", "STE 210", "", "")
    assert civic.secondary_line() == "3 FL 2 STE 210"


def test_free_text_keeps_xml_special_characters_that_are_escaped_later(
        index: MsagIndex) -> None:
    """& and quotes are legal text (the PIDF-LO writer escapes them); they are kept."""
    result = validate_address(wss(street2='Rear door & "blue" gate'), index)
    assert result.normalized is not None
    assert (result.normalized.unit, result.normalized.location_info) == (
        "REAR", 'door & "blue" gate')


def test_street2_over_60_characters_is_refused(index: MsagIndex) -> None:
    """At most 60 characters: a longer street2 is refused with its length."""
    result = validate_address(wss(street2="x" * 61), index)
    assert [(e.field, e.code.value) for e in result.errors] == [("street2", "too_long")]
    assert result.errors[0].message == "street2 is 61 characters; shorten it to 60 or fewer"
    assert validate_address(wss(street2="x" * 60), index).valid


@pytest.mark.parametrize(("field", "value", "named"), [
    ("street2", "Suite 210\r\nVia: SIP/2.0/UDP evil", "carriage return"),
    ("street2", "Suite 210\nX-Injected: 1", "line feed"),
    ("street2", "<civicAddress/>", "'<'"),
    ("street2", "STE 1 ]]> <loc>", "'>'"),
    ("street2", "STE\x00 1", "NUL"),
    ("street", "E Laramie St\u202e", "U+202E"),
    ("city", "White Sulphur\u2028Springs", "U+2028"),
    ("house_number", "301\t", "tab"),
    ("street2", "Room\x1b[31m 5", "U+001B"),
])
def test_characters_that_could_inject_sip_or_xml_are_refused(
        index: MsagIndex, field: str, value: str, named: str) -> None:
    """CR, LF, NUL, other controls, '<', '>' and invisible bidi characters are refused in
    every field, naming the character; nothing else is evaluated."""
    result = validate_address(wss(**{field: value}), index)
    assert result.normalized is None
    assert [(e.field, e.code.value) for e in result.errors] == [
        (field, "forbidden_character")]
    assert result.errors[0].message == (
        f"{field} contains {named}, which is not allowed in an address; remove it "
        "(no line breaks, control characters, '<' or '>')")


def test_overlong_street_is_refused(index: MsagIndex) -> None:
    """Every field has a bound; a 101-character street is refused."""
    result = validate_address(wss(street="E " + "A" * 99), index)
    assert [(e.field, e.code.value) for e in result.errors] == [("street", "too_long")]
