"""Address validation against the Montana sample: real streets in many spellings, the
sample's oddities, and every way a US address is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from router.location.civic import AddressInput
from router.location.msag import MsagIndex, parse_msag_files
from router.location.validate import (
    IssueCode,
    ValidationResult,
    ValidationStatus,
    read_street,
    validate_address,
)

MSAG_DIR = Path(__file__).resolve().parents[2] / "config" / "msag"


@pytest.fixture(scope="module")
def index() -> MsagIndex:
    parsed = parse_msag_files(sorted(MSAG_DIR.glob("*.csv")))
    assert parsed.ok
    return MsagIndex.from_rows(parsed.rows)


def wss(**changes: str) -> AddressInput:
    """An address in White Sulphur Springs, MT 59645, with fields replaced."""
    base: dict[str, str] = {"country": "US", "house_number": "301", "street": "E Laramie St",
                            "city": "White Sulphur Springs", "state": "MT",
                            "postal_code": "59645"}
    return AddressInput(**{**base, **changes})


def check(index: MsagIndex, address: AddressInput) -> ValidationResult:
    return validate_address(address, index)


def codes(result: ValidationResult) -> list[tuple[str, str]]:
    return [(e.field, e.code.value) for e in result.errors]


def warning_codes(result: ValidationResult) -> list[tuple[str, str]]:
    return [(w.field, w.code.value) for w in result.warnings]


def street_of(result: ValidationResult) -> tuple[str, str, str, str, str]:
    civic = result.normalized
    assert civic is not None, result.to_json()
    return (civic.house_number, civic.prefix_directional, civic.street_name,
            civic.street_suffix, civic.post_directional)


# --- valid addresses, many spellings ---------------------------------------------------------


@pytest.mark.parametrize("street", [
    "E Laramie St", "East Laramie Street", "e. laramie st.", "E LARAMIE ST", "East Laramie",
    "  east   LARAMIE   str ", "Laramie St E", "E Laramie Str",
])
def test_e_laramie_st_spellings_normalise_to_pub28(index: MsagIndex, street: str) -> None:
    """Directionals, types and case in any common spelling become "E LARAMIE ST"."""
    result = check(index, wss(street=street))
    assert result.status is ValidationStatus.VALID, result.to_json()
    assert street_of(result) == ("301", "E", "LARAMIE", "ST", "")
    assert result.msag is not None
    assert (result.msag.msag_id, result.msag.esn, result.msag.low, result.msag.high,
            result.msag.parity) == ("TIGER2024-ADDRFEAT-30059-000306", "00110", 301, 799, "O")


def test_valid_result_json_has_the_issue_shape(index: MsagIndex) -> None:
    """to_json gives status, normalized, msag, errors and warnings as the issue shows."""
    document: dict[str, Any] = check(index, wss(plus4="1234")).to_json()
    assert document["status"] == "valid"
    assert document["normalized"]["street_name"] == "LARAMIE"
    assert document["normalized"]["city"] == "WHITE SULPHUR SPRINGS"
    assert document["normalized"]["county"] == "MEAGHER"
    assert document["normalized"]["plus4"] == "1234"
    assert document["msag"] == {
        "msag_id": "TIGER2024-ADDRFEAT-30059-000306", "esn": "00110",
        "msag_community": "WHITE SULPHUR SPRINGS", "county": "MEAGHER", "psap_id": "",
        "low": 301, "high": 799, "parity": "O", "resolved_by": "range", "conflicts": []}
    assert document["errors"] == []
    assert document["warnings"] == [{
        "field": "street", "code": "similar_street",
        "message": "E LARIME ST also exists in WHITE SULPHUR SPRINGS; make sure "
                   "E LARAMIE ST is the right street",
        "suggestions": ["E LARIME ST"]}]


def test_e_larime_st_is_a_real_street_and_warns_about_laramie(index: MsagIndex) -> None:
    """E LARIME ST exists too: valid, with the look-alike named in a warning."""
    result = check(index, wss(street="E Larime St", house_number="300"))
    assert street_of(result) == ("300", "E", "LARIME", "ST", "")
    assert warning_codes(result) == [("street", "similar_street")]
    assert result.warnings[0].suggestions == ("E LARAMIE ST",)


def test_laramie_misspelt_suggests_both_laramie_and_larime(index: MsagIndex) -> None:
    """ "Laramee" is not silently corrected: both real streets are offered."""
    result = check(index, wss(street="E Laramee St"))
    assert result.status is ValidationStatus.INVALID
    assert result.normalized is None
    assert codes(result) == [("street", "unknown_street")]
    assert result.errors[0].suggestions == ("E LARAMIE ST", "E LARIME ST")


def test_main_st_without_directional_is_ambiguous(index: MsagIndex) -> None:
    """100 Main St fits both E MAIN ST and MAIN ST W: the user must choose."""
    result = check(index, wss(street="Main St", house_number="100"))
    assert codes(result) == [("street", "ambiguous_street")]
    assert result.errors[0].suggestions == ("E MAIN ST", "MAIN ST W")
    assert result.errors[0].message == (
        "100 'Main St' matches 2 streets: 100 E MAIN ST; 100 MAIN ST W; add the directional "
        "or street type to say which")


@pytest.mark.parametrize(("street", "expected"), [
    ("Main St W", ("", "MAIN", "ST", "W")),
    ("Main Street West", ("", "MAIN", "ST", "W")),
    ("W Main St", ("W", "MAIN", "ST", "")),
    ("West Main Street", ("W", "MAIN", "ST", "")),
])
def test_main_st_w_and_w_main_st_are_different_streets(
        index: MsagIndex, street: str, expected: tuple[str, str, str, str]) -> None:
    """The directional's side decides the street: MAIN ST W 2-298 even, W MAIN ST 800-1098."""
    number = "200" if expected[3] else "900"
    result = check(index, wss(street=street, house_number=number))
    assert street_of(result) == (number, *expected)


def test_missing_directional_is_completed_when_only_one_street_has_the_number(
        index: MsagIndex) -> None:
    """1050 Main St exists only on W MAIN ST: valid, with a street_completed warning."""
    result = check(index, wss(street="Main St", house_number="1050"))
    assert street_of(result) == ("1050", "W", "MAIN", "ST", "")
    assert warning_codes(result) == [("street", "street_completed")]
    assert result.warnings[0].suggestions == ("W MAIN ST",)


def test_ringling_59642_po_box_zip_is_valid_for_911(index: MsagIndex) -> None:
    """Ringling's ZIP 59642 is PO-box-only for USPS, but the MSAG has street ranges in it:
    the MSAG decides, the address is valid."""
    result = check(index, wss(house_number="100", street="Main St", city="Ringling",
                              postal_code="59642"))
    assert street_of(result) == ("100", "", "MAIN", "ST", "")
    assert result.normalized is not None
    assert (result.normalized.city, result.normalized.postal_code) == ("RINGLING", "59642")
    assert result.msag is not None and result.msag.esn == "00120"
    assert result.warnings == ()


@pytest.mark.parametrize("street", ["Highway 89", "US Highway 89", "Hwy 89", "US Hwy 89",
                                    "U.S. 89", "US-89", "us hwy 89"])
def test_highway_spellings_fold_to_us_hwy_89(index: MsagIndex, street: str) -> None:
    """Highway spellings become the MSAG's folded name "US HWY 89"."""
    result = check(index, wss(street=street, house_number="701"))
    assert street_of(result) == ("701", "", "US HWY 89", "", "")
    assert result.msag is not None and result.msag.msag_id == "TIGER2024-ADDRFEAT-30059-000442"


def test_highway_with_post_directional(index: MsagIndex) -> None:
    """ "Highway 89 North" is US HWY 89 N."""
    result = check(index, wss(street="Highway 89 North", house_number="2001"))
    assert street_of(result) == ("2001", "", "US HWY 89", "", "N")


def test_hwy_360_and_state_hwy_360_stay_distinct(index: MsagIndex) -> None:
    """Both HWY 360 and STATE HWY 360 exist: each spelling gets its own street."""
    assert street_of(check(index, wss(street="Highway 360", house_number="101")))[2] == \
        "HWY 360"
    assert street_of(check(index, wss(street="State Highway 360", house_number="101")))[2] == \
        "STATE HWY 360"


def test_state_route_folds_to_state_hwy(index: MsagIndex) -> None:
    """ "MT 294", "State Route 294", "Montana Highway 294" are STATE HWY 294."""
    for street in ("MT 294", "State Route 294", "Montana Highway 294"):
        result = check(index, wss(street=street, house_number="1801", city="Martinsdale",
                                  postal_code="59053"))
        assert street_of(result) == ("1801", "", "STATE HWY 294", "", ""), street


@pytest.mark.parametrize(("street", "number", "expected"), [
    ("First Avenue South", "2", ("2", "", "1ST", "AVE", "S")),
    ("1st Ave S", "2", ("2", "", "1ST", "AVE", "S")),
    ("Second Avenue", "100", ("100", "", "2ND", "AVE", "")),
    ("1 Rd", "2", ("2", "", "1", "RD", "")),
])
def test_ordinals_and_numbered_roads_in_ringling(
        index: MsagIndex, street: str, number: str,
        expected: tuple[str, str, str, str, str]) -> None:
    """Ordinal words become figures ("First" -> "1ST"); "1 RD" stays a road named 1."""
    result = check(index, wss(street=street, house_number=number, city="Ringling",
                              postal_code="59642"))
    assert street_of(result) == expected


def test_street_named_east_and_street_named_st(index: MsagIndex) -> None:
    """Directional words that are names: "S EAST RD" and "S ST E" are found as such."""
    assert street_of(check(index, wss(street="South East Road", house_number="1"))) == (
        "1", "S", "EAST", "RD", "")
    assert street_of(check(index, wss(street="S St E", house_number="101"))) == (
        "101", "S", "ST", "", "E")
    assert street_of(check(index, wss(street="South St", house_number="300"))) == (
        "300", "", "SOUTH", "ST", "")


def test_street_without_type_and_with_type_both_exist_in_ringling(index: MsagIndex) -> None:
    """RYAN and RYAN ST are both MSAG streets; the input picks exactly one."""
    ringling = {"city": "Ringling", "postal_code": "59642", "house_number": "51"}
    assert street_of(check(index, wss(street="Ryan", **ringling)))[3] == ""
    assert street_of(check(index, wss(street="Ryan Street", **ringling)))[3] == "ST"


def test_house_number_suffixes_are_kept(index: MsagIndex) -> None:
    """ "301A" and "301 1/2" match range 301 and keep the suffix."""
    for given, suffix in (("301A", "A"), ("301 1/2", "1/2"), ("301-b", "B"), ("301½", "1/2")):
        result = check(index, wss(house_number=given))
        assert result.normalized is not None, given
        assert (result.normalized.house_number, result.normalized.house_number_suffix) == (
            "301", suffix)


def test_full_state_name_and_zip_plus4_are_normalised(index: MsagIndex) -> None:
    """ "Montana" -> MT; "59645-1234" -> ZIP 59645 + plus4 1234."""
    result = check(index, wss(state="Montana", postal_code="59645-1234"))
    assert result.normalized is not None
    assert (result.normalized.state, result.normalized.postal_code,
            result.normalized.plus4) == ("MT", "59645", "1234")


def test_misspelt_city_is_corrected_only_when_the_zip_agrees(index: MsagIndex) -> None:
    """ "White Sulfur Springs" with 59645 is read as WHITE SULPHUR SPRINGS (warning);
    with Ringling's ZIP it is an error with suggestions."""
    result = check(index, wss(city="White Sulfur Springs"))
    assert result.status is ValidationStatus.VALID
    assert ("city", "city_corrected") in warning_codes(result)
    wrong_zip = check(index, wss(city="White Sulfur Springs", postal_code="59642"))
    assert codes(wrong_zip) == [("city", "unknown_community")]
    assert wrong_zip.errors[0].suggestions[0] == "WHITE SULPHUR SPRINGS"


def test_empty_city_is_taken_from_the_zip(index: MsagIndex) -> None:
    """No city but a ZIP of one community: valid, with city_from_postal_code."""
    result = check(index, wss(city=""))
    assert result.normalized is not None
    assert result.normalized.city == "WHITE SULPHUR SPRINGS"
    assert ("city", "city_from_postal_code") in warning_codes(result)


def test_zip_that_differs_from_the_msag_row_is_corrected(index: MsagIndex) -> None:
    """The MSAG decides the ZIP stored (and sent to the PSAP): a different one is replaced
    by the range's, with a warning (issue 18)."""
    result = check(index, wss(postal_code="59642"))
    assert result.status is ValidationStatus.VALID
    assert ("postal_code", "postal_code_corrected") in warning_codes(result)
    assert result.normalized is not None and result.normalized.postal_code == "59645"


def test_street_found_in_another_community_says_which(index: MsagIndex) -> None:
    """HALL CREEK RD is in the county-level community MEAGHER, not White Sulphur Springs."""
    result = check(index, wss(street="Hall Creek Rd", house_number="20"))
    assert codes(result) == [("city", "street_in_other_community")]
    assert result.errors[0].suggestions == ("MEAGHER",)


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "expected"), [
    ({"street": "PO Box 12", "house_number": "12"}, [("street", "po_box")]),
    ({"street": "P.O. Box 12", "house_number": "12"}, [("street", "po_box")]),
    ({"street": "Post Office Box 5", "house_number": "5"}, [("street", "po_box")]),
    ({"street2": "PO Box 77"}, [("street2", "po_box")]),
    ({"house_number": "Box 5", "street": "Main St"}, [("house_number", "po_box")]),
    ({"street": "General Delivery", "house_number": "1"},
     [("street", "general_delivery")]),
    ({"street": "RR 2 Box 5", "house_number": "5"}, [("street", "rural_route")]),
    ({"street": "Rural Route 2", "house_number": "5"}, [("street", "rural_route")]),
    ({"street": "HC 1 Box 30", "house_number": "30"}, [("street", "rural_route")]),
])
def test_mail_only_addresses_are_not_dispatchable(
        index: MsagIndex, fields: dict[str, str], expected: list[tuple[str, str]]) -> None:
    """PO boxes, general delivery and rural-route/highway-contract boxes are refused."""
    result = check(index, wss(**fields))
    assert codes(result) == expected
    assert "not a place" in result.errors[0].message


def test_box_elder_road_is_not_a_po_box(index: MsagIndex) -> None:
    """A street whose name starts with Box is a street, not a PO box."""
    result = check(index, wss(street="Box Elder Rd"))
    assert codes(result) == [("street", "unknown_street")]


def test_missing_house_number_is_refused_with_a_hint(index: MsagIndex) -> None:
    """No house number: refused, and told to move a leading number out of street."""
    result = check(index, wss(house_number="", street="301 E Laramie St"))
    assert codes(result) == [("house_number", "missing_house_number")]
    assert "move the number to house_number" in result.errors[0].message


@pytest.mark.parametrize("number", ["abc", "12-14", "1/2", "12AB", "123456789"])
def test_non_numeric_house_numbers_are_refused(index: MsagIndex, number: str) -> None:
    """House numbers are digits with at most a letter or fraction."""
    assert codes(check(index, wss(house_number=number))) == [("house_number",
                                                              "bad_house_number")]


def test_wrong_parity_lists_the_valid_ranges(index: MsagIndex) -> None:
    """101 Main St, Ringling: only the even side (2-198) exists."""
    result = check(index, wss(house_number="101", street="Main St", city="Ringling",
                              postal_code="59642"))
    assert codes(result) == [("house_number", "house_number_wrong_parity")]
    assert result.errors[0].suggestions == ("MAIN ST: 2-198 even",)


def test_out_of_range_number_lists_ranges_and_other_directionals(index: MsagIndex) -> None:
    """150 South St is outside SOUTH ST 300-398 but exists on E and SW SOUTH ST."""
    result = check(index, wss(house_number="150", street="South St"))
    assert codes(result) == [("house_number", "house_number_out_of_range")]
    assert result.errors[0].suggestions == (
        "SOUTH ST: 300-398 even", "150 E SOUTH ST", "150 SW SOUTH ST")


def test_out_of_range_on_e_laramie(index: MsagIndex) -> None:
    """5001 E Laramie St is past the end of both sides."""
    result = check(index, wss(house_number="5001"))
    assert codes(result) == [("house_number", "house_number_out_of_range")]
    assert result.errors[0].suggestions == ("E LARAMIE ST: 300-798 even, 301-799 odd",)


@pytest.mark.parametrize(("postal_code", "plus4", "expected"), [
    ("5964", "", [("postal_code", "bad_postal_code")]),
    ("59645-12", "", [("postal_code", "bad_postal_code")]),
    ("ABCDE", "", [("postal_code", "bad_postal_code")]),
    ("", "", [("postal_code", "required")]),
    ("59645", "12", [("plus4", "bad_plus4")]),
    ("59645-1234", "9999", [("plus4", "bad_plus4")]),
])
def test_bad_zip_codes_are_refused(index: MsagIndex, postal_code: str, plus4: str,
                                   expected: list[tuple[str, str]]) -> None:
    """ZIP is 5 digits or ZIP+4; plus4 is 4 digits and agrees with a ZIP+4."""
    assert codes(check(index, wss(postal_code=postal_code, plus4=plus4))) == expected


def test_unsupported_country_and_unknown_state(index: MsagIndex) -> None:
    """Only US and CA; a state must exist (with suggestions for a near miss)."""
    assert codes(check(index, wss(country="MX"))) == [("country", "unsupported_country")]
    result = check(index, wss(state="Montanna"))
    assert codes(result) == [("state", "unknown_state")]
    assert result.errors[0].suggestions[0] == "MT"


def test_state_without_msag_data_is_refused(index: MsagIndex) -> None:
    """A valid state the MSAG does not cover cannot be validated."""
    assert codes(check(index, wss(state="WY", postal_code="82001"))) == [
        ("state", "not_in_msag")]


def test_unknown_city_suggests_communities(index: MsagIndex) -> None:
    """A misspelt community with a ZIP of another one is refused with suggestions."""
    result = check(index, wss(city="Martinsdail", postal_code="59645"))
    assert codes(result) == [("city", "unknown_community")]
    assert result.errors[0].suggestions[0] == "MARTINSDALE"


def test_every_error_is_reported_at_once(index: MsagIndex) -> None:
    """Several bad fields give one error each, in field order."""
    result = check(index, wss(postal_code="5964", plus4="x", house_number=""))
    assert codes(result) == [("postal_code", "bad_postal_code"), ("plus4", "bad_plus4"),
                             ("house_number", "missing_house_number")]


def test_read_street_keeps_alternative_readings() -> None:
    """ "East St" may be a street named East or E ST: both readings are kept, in order."""
    readings = read_street("East St", "US", "MT")
    assert [(r.pre_dir, r.names[0], r.street_type, r.post_dir) for r in readings] == [
        ("E", "ST", "", ""), ("", "EAST", "ST", ""), ("", "EAST ST", "", "")]


def test_issue_codes_are_stable_strings() -> None:
    """Codes are an Enum of plain strings (API clients switch on them)."""
    assert IssueCode.ESN_CONFLICT.value == "esn_conflict"
    assert IssueCode("po_box") is IssueCode.PO_BOX


def test_house_number_and_unit_inside_the_street_line_are_taken_out(index: MsagIndex) -> None:
    """ "301 E Laramie St Apt 4" in street: the number is dropped, "Apt 4" goes to street2."""
    result = check(index, wss(street="301 E Laramie St Apt 4"))
    assert street_of(result) == ("301", "E", "LARAMIE", "ST", "")
    assert result.normalized is not None and result.normalized.unit == "APT 4"
    split = [w for w in result.warnings if w.code is IssueCode.STREET_SPLIT]
    assert [w.message for w in split] == [
        "street held more than the street name: the house number and 'Apt 4' (moved to "
        "street2) taken out of it"]


def test_a_street_name_starting_with_a_number_is_not_split(index: MsagIndex) -> None:
    """71 RANCH RD is a street name: with house number 71 it is still found as typed."""
    result = check(index, wss(street="71 Ranch Rd", house_number="71", city="Martinsdale",
                              postal_code="59053"))
    assert street_of(result) == ("71", "", "71 RANCH", "RD", "")
    assert result.warnings == ()
