"""router.pidf: civic address <-> PIDF-LO, golden documents, round trips, escaping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from router.location.civic import CivicAddress
from router.pidf import (
    CIVIC_ELEMENT_ORDER,
    NS_CA,
    NS_CAE,
    LocationElement,
    PidfError,
    address_language,
    civic_elements,
    clean_text,
    from_pidf,
    read_pidf,
    to_pidf,
)
from tests.support.pidf_check import validate_pidf

ISSUED = datetime(2025, 5, 1, 17, 4, 11, tzinfo=UTC)
ENTITY = "pres:+12025550123@voip.example.net"
DEVICE = "urn:uuid:6f1c2f58-8d4b-4b8e-9a36-0b7e1c6e9d11"

AUSTIN = CivicAddress(
    country="US", state="TX", county="TRAVIS", city="AUSTIN", prefix_directional="N",
    street_name="LAMAR", street_suffix="BLVD", house_number="6500", location_info="LOADING DOCK B",
    floor="2", postal_code="78752", building="BLDG 3", unit="STE 210", postal_community="AUSTIN",
)
EVERY_FIELD = CivicAddress(
    country="US", state="MT", county="MEAGHER", city="WHITE SULPHUR SPRINGS",
    community="SOUTH FORK", house_number="123", house_number_suffix="1/2",
    prefix_directional="E", street_name="LARAMIE", street_suffix="ST", post_directional="SW",
    location_info="BEHIND THE BARN", floor="3", unit="APT 4B", room="RM 12", building="BLDG C",
    postal_code="59645", postal_community="WHITE SULPHUR SPGS",
)
GATINEAU = CivicAddress(
    country="CA", state="QC", county="GATINEAU", city="GATINEAU", street_name="LAURIER",
    street_suffix="RUE", post_directional="O", house_number="25", postal_code="J8X 4C8",
    postal_community="GATINEAU",
)
OTTAWA = CivicAddress(
    country="CA", state="ON", county="OTTAWA", city="OTTAWA", street_name="SUSSEX",
    street_suffix="DR", house_number="24", postal_code="K1M 1M4", unit="UNIT 5",
    postal_community="OTTAWA",
)

GOLDEN_AUSTIN = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<presence xmlns="urn:ietf:params:xml:ns:pidf"'
    b' xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"'
    b' xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"'
    b' xmlns:gbp="urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy"'
    b' xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"'
    b' entity="pres:+12025550123@voip.example.net">'
    b'<dm:device id="dev-46610d680e"><gp:geopriv><gp:location-info>'
    b'<ca:civicAddress xml:lang="en-US">'
    b"<ca:country>US</ca:country><ca:A1>TX</ca:A1><ca:A2>TRAVIS</ca:A2><ca:A3>AUSTIN</ca:A3>"
    b"<ca:PRD>North</ca:PRD><ca:RD>LAMAR</ca:RD><ca:STS>Boulevard</ca:STS>"
    b"<ca:HNO>6500</ca:HNO><ca:LOC>LOADING DOCK B</ca:LOC><ca:FLR>2</ca:FLR>"
    b"<ca:PC>78752</ca:PC><ca:BLD>Building 3</ca:BLD><ca:UNIT>Suite 210</ca:UNIT>"
    b"<ca:PCN>AUSTIN</ca:PCN>"
    b"</ca:civicAddress></gp:location-info>"
    b"<gp:usage-rules><gbp:retransmission-allowed>true</gbp:retransmission-allowed>"
    b"<gbp:retention-expiry>2025-05-02T17:04:11Z</gbp:retention-expiry></gp:usage-rules>"
    b"<gp:method>Manual</gp:method></gp:geopriv>"
    b"<dm:deviceID>urn:uuid:6f1c2f58-8d4b-4b8e-9a36-0b7e1c6e9d11</dm:deviceID>"
    b"<dm:timestamp>2025-05-01T17:04:11Z</dm:timestamp></dm:device></presence>"
)


def pidf(civic: CivicAddress, **overrides: object) -> bytes:
    arguments: dict[str, object] = {"entity": ENTITY, "device_id": DEVICE, "timestamp": ISSUED}
    arguments.update(overrides)
    return to_pidf(civic, **arguments)  # type: ignore[arg-type]


def civic_of(xml: bytes) -> dict[str, str]:
    address = etree.fromstring(xml).find(f".//{{{NS_CA}}}civicAddress")
    assert address is not None
    return {etree.QName(child).localname: child.text or "" for child in address}


def test_to_pidf_matches_the_golden_document() -> None:
    """The Austin address produces exactly the reviewed golden PIDF-LO bytes, on one line."""
    xml = pidf(AUSTIN, retention_expiry=ISSUED + timedelta(days=1))
    assert xml == GOLDEN_AUSTIN
    assert b"\n" not in xml and b"\r" not in xml


@pytest.mark.parametrize("address", [AUSTIN, EVERY_FIELD, GATINEAU, OTTAWA],
                         ids=["austin", "every-field", "gatineau-fr", "ottawa"])
def test_from_pidf_round_trips_a_normalised_address(address: CivicAddress) -> None:
    """from_pidf(to_pidf(a)) gives back the stored address, abbreviations and all."""
    assert from_pidf(pidf(address)) == address


def test_round_trip_drops_plus4_and_extras_which_are_not_pidf_elements() -> None:
    """plus4 and extras are never sent, so they come back empty."""
    stored = replace(AUSTIN, plus4="1234", extras=(("NOTE", "gate code 12"),))
    xml = pidf(stored)
    assert b"1234" not in xml and b"gate code" not in xml
    assert from_pidf(xml) == AUSTIN


def test_civic_elements_follow_rfc5139_order_and_omit_empty_fields() -> None:
    """Elements come in RFC 5139 s4 order; empty fields produce no element."""
    names = [name for _, name, _ in civic_elements(EVERY_FIELD)]
    assert names == ["country", "A1", "A2", "A3", "A4", "PRD", "RD", "STS", "POD", "HNO", "HNS",
                     "LOC", "FLR", "PC", "BLD", "UNIT", "ROOM", "PCN"]
    assert names == sorted(names, key=CIVIC_ELEMENT_ORDER.index)
    minimal = CivicAddress(country="US", state="TX", street_name="MAIN", house_number="1")
    assert civic_of(pidf(minimal)) == {"country": "US", "A1": "TX", "RD": "MAIN", "HNO": "1"}


def test_us_profile_spells_out_directionals_street_types_and_unit_designators() -> None:
    """CLDXF-US: "E" -> "East", "ST" -> "Street", "SW" -> "Southwest", "APT" -> "Apartment"."""
    values = civic_of(pidf(EVERY_FIELD))
    assert (values["PRD"], values["STS"], values["POD"]) == ("East", "Street", "Southwest")
    assert (values["UNIT"], values["ROOM"], values["BLD"]) == ("Apartment 4B", "Room 12",
                                                              "Building C")
    assert (values["A1"], values["A2"], values["A3"], values["A4"]) == (
        "MT", "MEAGHER", "WHITE SULPHUR SPRINGS", "SOUTH FORK")
    assert (values["HNO"], values["HNS"], values["PCN"]) == ("123", "1/2", "WHITE SULPHUR SPGS")


def test_canadian_french_street_type_goes_before_the_name_as_cae_stp() -> None:
    """"RUE LAURIER O": RUE is sent as cae:STP "Rue" (after all ca: elements), O as "Ouest"."""
    xml = pidf(GATINEAU, lang="fr-CA")
    address = etree.fromstring(xml).find(f".//{{{NS_CA}}}civicAddress")
    assert address is not None
    last = address[-1]
    assert (last.tag, last.text) == (f"{{{NS_CAE}}}STP", "Rue")
    values = civic_of(xml)
    assert "STS" not in values
    assert values["POD"] == "Ouest"
    assert read_pidf(xml).lang == "fr-CA"


def test_address_language_comes_from_the_address_not_the_caller() -> None:
    """xml:lang defaults to the address's language; a US address never gets French words."""
    assert read_pidf(pidf(GATINEAU)).lang == "fr-CA"
    assert read_pidf(pidf(OTTAWA)).lang == "en-CA"
    assert read_pidf(pidf(AUSTIN)).lang == "en-US"
    assert address_language(EVERY_FIELD) == "en-US"
    values = civic_of(pidf(EVERY_FIELD, lang="fr-CA"))
    assert (values["PRD"], values["POD"]) == ("East", "Southwest")


def test_canadian_english_types_use_canada_post_words() -> None:
    """Canada Post "CRT" is "Court" and comes back as "CRT", not the USPS "CT"."""
    court = replace(OTTAWA, street_suffix="CRT", post_directional="E")
    values = civic_of(pidf(court, lang="en-CA"))
    assert (values["STS"], values["POD"]) == ("Court", "East")
    assert from_pidf(pidf(court, lang="en-CA")) == court


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>", "AT&T Store", "]]><ca:A1>XX</ca:A1>", 'say "hi" & \'bye\'',
    "</ca:LOC></gp:location-info>", "&amp; &lt; &#x41;",
])
def test_markup_in_any_field_stays_text_in_its_element(hostile: str) -> None:
    """<, &, ]]>, quotes and closing tags are escaped: the value reads back unchanged."""
    address = replace(AUSTIN, location_info=hostile, street_name=hostile, unit=hostile)
    xml = pidf(address)
    values = civic_of(xml)
    assert values["LOC"] == hostile
    assert values["RD"] == hostile
    assert list(values).count("A1") == 1
    assert from_pidf(xml) == address


def test_control_characters_are_removed_and_whitespace_collapsed() -> None:
    """NUL, BEL, ESC, DEL, C1 are removed; tab/CR/LF become one space."""
    address = replace(AUSTIN, location_info="DOCK\x00 B\x07\x1b\x7f\x85\tRING\r\nBELL  NOW")
    values = civic_of(pidf(address))
    assert values["LOC"] == "DOCK B RING BELL NOW"
    assert clean_text("\ud800A\ufffeB\uffff") == "AB"


def test_a_field_of_only_control_characters_is_omitted() -> None:
    """A value that cleans to nothing produces no element at all."""
    values = civic_of(pidf(replace(AUSTIN, location_info="\x00\x01\t\r\n")))
    assert "LOC" not in values


def test_entity_device_method_and_times_are_read_back() -> None:
    """read_pidf returns the metadata to_pidf wrote, times in UTC."""
    eastern = timezone(timedelta(hours=-5))
    xml = pidf(AUSTIN, timestamp=datetime(2025, 5, 1, 12, 4, 11, tzinfo=eastern),
               retention_expiry=datetime(2025, 5, 2, tzinfo=UTC), method="DHCP",
               provided_by="cid:prov-7c1e@voip.example.net")
    location = read_pidf(xml)
    assert location.entity == ENTITY
    assert location.device_id == DEVICE
    assert location.method == "DHCP"
    assert location.timestamp == ISSUED
    assert location.retention_expiry == datetime(2025, 5, 2, tzinfo=UTC)
    assert location.retransmission_allowed is True
    assert location.provided_by == "cid:prov-7c1e@voip.example.net"
    assert location.element is LocationElement.DEVICE
    assert b"<dm:timestamp>2025-05-01T17:04:11Z</dm:timestamp>" in xml


def test_retransmission_not_allowed_is_the_boolean_false() -> None:
    """retransmission_allowed=False is sent as "false" (schema boolean, never "no")."""
    xml = pidf(AUSTIN, retransmission_allowed=False)
    assert b"<gbp:retransmission-allowed>false</gbp:retransmission-allowed>" in xml
    assert read_pidf(xml).retransmission_allowed is False


def test_tuple_element_puts_geopriv_in_status_with_device_id_and_timestamp() -> None:
    """LocationElement.TUPLE builds tuple/status/geopriv + dm:deviceID + pidf timestamp."""
    xml = pidf(AUSTIN, element=LocationElement.TUPLE)
    root = etree.fromstring(xml)
    ns = {"p": "urn:ietf:params:xml:ns:pidf", "gp": "urn:ietf:params:xml:ns:pidf:geopriv10",
          "dm": "urn:ietf:params:xml:ns:pidf:data-model"}
    assert len(root.xpath("/p:presence/p:tuple/p:status/gp:geopriv", namespaces=ns)) == 1
    assert root.xpath("string(/p:presence/p:tuple/dm:deviceID)", namespaces=ns) == DEVICE
    assert root.xpath("string(/p:presence/p:tuple/p:timestamp)", namespaces=ns) == (
        "2025-05-01T17:04:11Z")
    location = read_pidf(xml)
    assert (location.element, location.device_id, location.timestamp) == (
        LocationElement.TUPLE, DEVICE, ISSUED)
    assert location.civic == AUSTIN


@pytest.mark.parametrize("element", list(LocationElement))
@pytest.mark.parametrize("address", [AUSTIN, EVERY_FIELD, GATINEAU, OTTAWA],
                         ids=["austin", "every-field", "gatineau-fr", "ottawa"])
def test_to_pidf_output_passes_schema_and_rule_checks(
    address: CivicAddress, element: LocationElement
) -> None:
    """Every document we build validates against the RFC schemas and the rule layer."""
    xml = pidf(address, element=element, provided_by="cid:prov@voip.example.net",
               retention_expiry=ISSUED + timedelta(hours=24))
    assert validate_pidf(xml) == []


@pytest.mark.parametrize(("overrides", "message"), [
    ({"entity": "not a uri"}, "entity must be a URI"),
    ({"entity": "pres:bob\nVia: x"}, "entity must be a URI"),
    ({"device_id": "00:0d:4b:30:72:df"}, "device_id must be a URI"),
    ({"method": "by hand"}, "method must be an IANA method token"),
    ({"lang": "english please"}, "lang must be a BCP 47"),
    ({"timestamp": datetime(2025, 5, 1, 17, 4, 11)}, "timestamp must be timezone-aware"),
    ({"retention_expiry": datetime(2025, 5, 2)}, "retention_expiry must be timezone-aware"),
    ({"provided_by": "ACME <x>"}, "provided_by must be a URI"),
])
def test_to_pidf_refuses_malformed_metadata(overrides: dict[str, object], message: str) -> None:
    """Bad URIs, method tokens, language tags and naive datetimes raise PidfError."""
    with pytest.raises(PidfError, match=message):
        pidf(AUSTIN, **overrides)


def test_to_pidf_refuses_a_country_that_is_not_iso_alpha2() -> None:
    """country must be two letters (RFC 5139 s3.3); lower case is upper-cased."""
    with pytest.raises(PidfError, match="ISO 3166-1 alpha-2"):
        pidf(replace(AUSTIN, country="USA"))
    assert civic_of(pidf(replace(AUSTIN, country="us")))["country"] == "US"


FOREIGN = b"""<?xml version="1.0"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
  xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" entity="pres:alice@example.com">
 <tuple id="t1"><status><gp:geopriv><gp:location-info><ca:civicAddress xml:lang="en">
  <ca:country>US</ca:country><ca:A1>NY</ca:A1><ca:A3>New York</ca:A3><ca:A5>Midtown</ca:A5>
  <ca:PRD>W</ca:PRD><ca:RD>34th</ca:RD><ca:STS>Street</ca:STS><ca:HNO>20</ca:HNO>
  <ca:NAM>Empire State Building</ca:NAM><ca:PC>10118</ca:PC>
 </ca:civicAddress></gp:location-info><gp:usage-rules/></gp:geopriv></status></tuple>
</presence>"""


def test_from_pidf_reads_a_foreign_tuple_document_keeping_unmapped_elements_as_extras() -> None:
    """A5 and NAM, which we never send, come back in extras; words become abbreviations."""
    civic = from_pidf(FOREIGN)
    assert (civic.country, civic.state, civic.city, civic.prefix_directional,
            civic.street_name, civic.street_suffix, civic.house_number, civic.postal_code) == (
        "US", "NY", "New York", "W", "34th", "ST", "20", "10118")
    assert civic.extras == (("A5", "Midtown"), ("NAM", "Empire State Building"))
    location = read_pidf(FOREIGN)
    assert (location.device_id, location.method, location.timestamp) == ("", "", None)
    assert location.retransmission_allowed is None


@pytest.mark.parametrize(("document", "message"), [
    (b"<presence", "not well-formed"),
    (b'<?xml version="1.0"?><!DOCTYPE presence [<!ENTITY x "y">]>'
     b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b">&x;</presence>',
     "no DOCTYPE"),
    (b'<presence entity="pres:a@b"/>', "not pidf presence"),
    (b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b"/>', "no gp:geopriv"),
])
def test_from_pidf_refuses_what_is_not_a_civic_pidf_lo(document: bytes, message: str) -> None:
    """Malformed XML, DTDs (entity tricks), a foreign root or no civic address raise."""
    with pytest.raises(PidfError, match=message):
        from_pidf(document)


def test_from_pidf_never_reads_external_entities() -> None:
    """An external entity is neither resolved nor fetched: the document is refused."""
    document = (b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b">&x;</presence>')
    with pytest.raises(PidfError, match="no DOCTYPE"):
        from_pidf(document)


_FIELD_TEXT = st.text(
    alphabet=st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=150, deadline=None)
@given(street=_FIELD_TEXT, loc=_FIELD_TEXT, room=_FIELD_TEXT, city=_FIELD_TEXT)
def test_any_text_in_any_field_gives_a_valid_document_that_reads_back(
    street: str, loc: str, room: str, city: str
) -> None:
    """Whatever the text, the PIDF-LO is schema-valid and each value reads back cleaned."""
    address = replace(AUSTIN, street_name=street, location_info=loc, room=room, city=city)
    xml = pidf(address)
    assert validate_pidf(xml) == []
    back = from_pidf(xml)
    assert back.street_name == clean_text(street)
    assert back.location_info == clean_text(loc)
    assert back.city == clean_text(city)
