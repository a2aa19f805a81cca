"""Civic address <-> PIDF-LO (RFC 3863 / 4119 / 4479 / 5139 / 5491, US/CA CLDXF profile).

`to_pidf` builds the location object our emergency INVITEs carry by value (RFC 6442);
`from_pidf` (and `read_pidf`, which also returns the metadata) parses one back. The pair
round-trips: `from_pidf(to_pidf(a)) == a` for a normalised address, except `plus4` and
`extras`, which are not PIDF-LO elements and are not sent.

Document shape (see docs/pidf-lo.md):

    presence entity=<Target URI>
      dm:device id=...                  RFC 4479; RFC 5491 s3: location of the device
        gp:geopriv                      RFC 4119 s2.2: location-info, usage-rules, method
          gp:location-info / ca:civicAddress xml:lang=...   RFC 5139 s4 element order
          gp:usage-rules / gbp:retransmission-allowed, gbp:retention-expiry
          gp:method                     "Manual" for a provisioned address
          gp:provided-by                optional, RFC 7852 reference
        dm:deviceID                     required by the RFC 4479 schema
        dm:timestamp

Why `dm:device` and not `tuple`: the location we send is where the calling *device* is
(bound to its network), RFC 5491 s3 names `device` for that, and the RFC 4479 schema then
forces a `deviceID`, which PSAPs use to tell devices apart. `element=LocationElement.TUPLE`
builds the RFC 4119 baseline (`tuple/status/geopriv`, with `dm:deviceID` and `timestamp` in
the tuple) for a receiver that reads only that.

Text safety: the document is built with lxml, so `<`, `&`, `]]>` and quotes are escaped and
no value can leave its element. Control characters cannot be escaped in XML 1.0 at all: tab,
CR and LF become spaces, every other control character (C0, DEL, C1), lone surrogates and
U+FFFE/U+FFFF are removed, and runs of whitespace collapse to one space (RFC 5139 values are
xs:token, whose whitespace collapses anyway). We remove rather than refuse because a stray
control character must not cost an emergency call its location.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Final

from lxml import etree

from router import cldxf
from router.location.civic import CivicAddress

__all__ = [
    "CIVIC_ELEMENT_ORDER",
    "NS_CA",
    "NS_CAE",
    "NS_DM",
    "NS_ECD",
    "NS_GBP",
    "NS_GP",
    "NS_PIDF",
    "LocationElement",
    "PidfError",
    "PidfLocation",
    "address_language",
    "civic_elements",
    "clean_text",
    "from_pidf",
    "read_pidf",
    "to_pidf",
]

NS_PIDF: Final = "urn:ietf:params:xml:ns:pidf"
NS_DM: Final = "urn:ietf:params:xml:ns:pidf:data-model"
NS_GP: Final = "urn:ietf:params:xml:ns:pidf:geopriv10"
NS_GBP: Final = "urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy"
NS_CA: Final = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
NS_CAE: Final = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr:ext"
NS_ECD: Final = "urn:ietf:params:xml:ns:EmergencyCallData"
_XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
# No line break anywhere in the document: PJSIP sends a part body byte for byte, and a bare
# LF would otherwise sit inside a CRLF message (legal in application/*, but it trips tools).
_XML_DECLARATION: Final = b'<?xml version="1.0" encoding="UTF-8"?>'

CIVIC_ELEMENT_ORDER: Final = (
    "country", "A1", "A2", "A3", "A4", "A5", "A6", "PRM", "PRD", "RD", "STS", "POD", "POM",
    "RDSEC", "RDBR", "RDSUBBR", "HNO", "HNS", "LMK", "LOC", "FLR", "NAM", "PC", "BLD", "UNIT",
    "ROOM", "SEAT", "PLC", "PCN", "POBOX", "ADDCODE",
)
"""RFC 5139 s4: the civicAddress schema is an ordered xs:sequence, each element at most once."""


class PidfError(ValueError):
    """A PIDF-LO that cannot be built from these inputs, or parsed back."""


class LocationElement(Enum):
    """Where the geopriv sits (RFC 5491 s3, erratum 1888)."""

    DEVICE = "device"
    """`dm:device/gp:geopriv` (RFC 4479): our default."""
    TUPLE = "tuple"
    """`tuple/status/gp:geopriv` (RFC 4119 baseline)."""


@dataclass(frozen=True, slots=True)
class PidfLocation:
    """What `read_pidf` found in a PIDF-LO: the address and the metadata about it."""

    civic: CivicAddress
    entity: str
    device_id: str
    """dm:deviceID of the element holding the location ("" when there is none)."""
    method: str
    timestamp: datetime | None
    retransmission_allowed: bool | None
    retention_expiry: datetime | None
    provided_by: str | None
    """`ref` of an RFC 7852 EmergencyCallDataReference inside gp:provided-by."""
    lang: str
    """xml:lang of the civicAddress ("" when absent)."""
    element: LocationElement | None
    """`None` for a geopriv inside `dm:person`."""


_REMOVED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+")
_METHOD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*")
_LANG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")
_COUNTRY = re.compile(r"[A-Z]{2}")

_SAFE_PARSER: Final = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
    remove_comments=True, remove_pis=True,
)

# CivicAddress field -> RFC 5139 element, for the fields sent as-is or with a word table.
_PLAIN_FIELDS: Final = (
    ("state", "A1"), ("county", "A2"), ("city", "A3"), ("community", "A4"),
    ("street_name", "RD"), ("house_number", "HNO"), ("house_number_suffix", "HNS"),
    ("location_info", "LOC"), ("floor", "FLR"), ("postal_code", "PC"),
    ("postal_community", "PCN"),
)
_UNIT_FIELDS: Final = (("building", "BLD"), ("unit", "UNIT"), ("room", "ROOM"))


def clean_text(value: str) -> str:
    """Remove characters XML 1.0 cannot carry, turn tab/CR/LF into spaces, collapse runs of
    whitespace and strip (the xs:token value the receiver will see anyway)."""
    return " ".join(_REMOVED.sub("", value).split())


def _require_uri(value: str, what: str) -> str:
    text = clean_text(value)
    if _URI.fullmatch(text) is None:
        raise PidfError(f"{what} must be a URI with a scheme (e.g. pres:, urn:uuid:, mac:)")
    return text


def _xs_datetime(value: datetime, what: str) -> str:
    """RFC 3339 / xs:dateTime in UTC with a Z; naive datetimes are refused (ambiguous)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise PidfError(f"{what} must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def address_language(civic: CivicAddress) -> str:
    """The language the address is written in (RFC 5139 s3.5 xml:lang): "fr-CA" for a
    Canadian address with a French street type, "en-CA" for other Canadian ones, else
    "en-US". Not the caller's language, which travels in the SDP (RFC 8373)."""
    country = clean_text(civic.country).upper()
    if country == "CA":
        french = cldxf.is_french_street_type(clean_text(civic.street_suffix), country)
        return "fr-CA" if french else "en-CA"
    return "en-US"


def civic_elements(civic: CivicAddress, *, lang: str = "en-US") -> list[tuple[str, str, str]]:
    """(namespace, element, value) in RFC 5139 order, CLDXF words spelled out, empty omitted.

    Canadian French street types ("RUE", "BOUL") precede the name, so they go out as the
    RFC 6848 `cae:STP` extension after every ca: element (PIDF-LO.md s13), not as `ca:STS`.
    """
    country = clean_text(civic.country).upper()
    values: dict[str, str] = {"country": country}
    for field_name, element in _PLAIN_FIELDS:
        values[element] = getattr(civic, field_name)
    suffix = clean_text(civic.street_suffix)
    # French words only for a Canadian address written in French: a US address stays
    # English whatever language its caller speaks (that goes in the SDP, RFC 8373).
    french = country == "CA" and (
        lang.lower().startswith("fr") or cldxf.is_french_street_type(suffix, country))
    values["PRD"] = cldxf.spell_directional(clean_text(civic.prefix_directional), french=french)
    values["POD"] = cldxf.spell_directional(clean_text(civic.post_directional), french=french)
    street_type = cldxf.spell_street_type(suffix, country)
    prefix_type = ""
    if cldxf.is_french_street_type(suffix, country):
        prefix_type = street_type
    else:
        values["STS"] = street_type
    for field_name, element in _UNIT_FIELDS:
        values[element] = cldxf.spell_unit(clean_text(getattr(civic, field_name)))
    if values["country"] and _COUNTRY.fullmatch(values["country"]) is None:
        raise PidfError("country must be an ISO 3166-1 alpha-2 code (RFC 5139 s3.3)")
    ordered = [(NS_CA, name, clean_text(values.get(name, ""))) for name in CIVIC_ELEMENT_ORDER]
    ordered.append((NS_CAE, "STP", clean_text(prefix_type)))
    return [item for item in ordered if item[2]]


def to_pidf(
    civic: CivicAddress,
    *,
    entity: str,
    device_id: str,
    method: str = "Manual",
    timestamp: datetime,
    provided_by: str | None = None,
    lang: str | None = None,
    retention_expiry: datetime | None = None,
    retransmission_allowed: bool = True,
    element: LocationElement = LocationElement.DEVICE,
) -> bytes:
    """The PIDF-LO (UTF-8 XML bytes) for `civic`.

    entity: the Target's URI (RFC 4119 s2.1: normally `pres:+1NPANXXXXXX@host`).
    device_id: a URN for the device (RFC 4479 s3.4.1: `urn:uuid:...`, `mac:...`).
    method: an IANA Method Token (RFC 4119 s2.2.3); "Manual" for an entered address.
    timestamp: when the location was determined/issued; timezone-aware.
    provided_by: URI of the RFC 7852 ProviderInfo block, sent in gp:provided-by.
    lang: xml:lang of the civicAddress (RFC 5139 s3.5), the language the address is written
        in: "en-US", "fr-CA", ...; None derives it from the address (`address_language`).
    retention_expiry: gbp:retention-expiry, omitted when None.
    retransmission_allowed: gbp:retransmission-allowed, always sent, as true/false (the
        schema type; never yes/no): True by default so the PSAP may pass the location on to
        responders.
    Raises `PidfError` on a malformed URI, method, language, country or naive datetime.
    """
    entity_uri = _require_uri(entity, "entity")
    device_uri = _require_uri(device_id, "device_id")
    method_token = clean_text(method)
    if _METHOD.fullmatch(method_token) is None:
        raise PidfError("method must be an IANA method token such as Manual, GPS, DHCP")
    lang_tag = clean_text(address_language(civic) if lang is None else lang)
    if _LANG.fullmatch(lang_tag) is None:
        raise PidfError("lang must be a BCP 47 language tag such as en-US")
    issued = _xs_datetime(timestamp, "timestamp")
    expiry = None if retention_expiry is None else _xs_datetime(
        retention_expiry, "retention_expiry")
    provider_ref = None if provided_by is None else _require_uri(provided_by, "provided_by")
    civic_items = civic_elements(civic, lang=lang_tag)

    nsmap: dict[str | None, str] = {
        None: NS_PIDF, "dm": NS_DM, "gp": NS_GP, "gbp": NS_GBP, "ca": NS_CA}
    if any(ns == NS_CAE for ns, _, _ in civic_items):
        nsmap["cae"] = NS_CAE
    if provider_ref is not None:
        nsmap["ad"] = NS_ECD
    presence = etree.Element(f"{{{NS_PIDF}}}presence", nsmap=nsmap)
    presence.set("entity", entity_uri)

    # xs:ID: an NCName unique in the document; derived from the device so it is stable
    # across a device's documents without revealing a MAC address.
    digest = hashlib.sha256(device_uri.encode()).hexdigest()[:10]
    if element is LocationElement.DEVICE:
        holder = etree.SubElement(presence, f"{{{NS_DM}}}device", id=f"dev-{digest}")
        geopriv_parent = holder
    else:
        holder = etree.SubElement(presence, f"{{{NS_PIDF}}}tuple", id=f"loc-{digest}")
        geopriv_parent = etree.SubElement(holder, f"{{{NS_PIDF}}}status")

    # RFC 4119 s2.2.5 schema order: location-info, usage-rules (mandatory), method, provided-by.
    geopriv = etree.SubElement(geopriv_parent, f"{{{NS_GP}}}geopriv")
    location_info = etree.SubElement(geopriv, f"{{{NS_GP}}}location-info")
    civic_address = etree.SubElement(location_info, f"{{{NS_CA}}}civicAddress")
    civic_address.set(_XML_LANG, lang_tag)
    for namespace, name, value in civic_items:
        etree.SubElement(civic_address, f"{{{namespace}}}{name}").text = value
    usage_rules = etree.SubElement(geopriv, f"{{{NS_GP}}}usage-rules")
    etree.SubElement(usage_rules, f"{{{NS_GBP}}}retransmission-allowed").text = (
        "true" if retransmission_allowed else "false")
    if expiry is not None:
        etree.SubElement(usage_rules, f"{{{NS_GBP}}}retention-expiry").text = expiry
    etree.SubElement(geopriv, f"{{{NS_GP}}}method").text = method_token
    if provider_ref is not None:
        # RFC 7852 s4: a reference to the ProviderInfo block from the PIDF-LO provided-by.
        provided = etree.SubElement(geopriv, f"{{{NS_GP}}}provided-by")
        reference = etree.SubElement(provided, f"{{{NS_ECD}}}EmergencyCallDataReference")
        reference.set("purpose", "EmergencyCallData.ProviderInfo")
        reference.set("ref", provider_ref)

    # RFC 4479 s3.4: deviceID after the extensions; timestamp last (dm: in a device,
    # pidf: in a tuple, RFC 3863 s4.1.7).
    etree.SubElement(holder, f"{{{NS_DM}}}deviceID").text = device_uri
    timestamp_ns = NS_DM if element is LocationElement.DEVICE else NS_PIDF
    etree.SubElement(holder, f"{{{timestamp_ns}}}timestamp").text = issued
    # Compact on the wire (one line): the INVITE is already past the RFC 3261 s18.1.1
    # 1300-byte line.
    return _XML_DECLARATION + bytes(etree.tostring(presence, encoding="UTF-8"))


def _parse(xml: bytes) -> etree._Element:
    try:
        root = etree.fromstring(xml, _SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise PidfError(f"not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise PidfError("a PIDF-LO has no DOCTYPE")
    if root.tag != f"{{{NS_PIDF}}}presence":
        raise PidfError(f"root element is {etree.QName(root).text}, not pidf presence")
    return root


def _text(parent: etree._Element, tag: str) -> str:
    child = parent.find(tag)
    return "" if child is None else clean_text(child.text or "")


def _datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _boolean(text: str) -> bool | None:
    return {"true": True, "1": True, "false": False, "0": False}.get(text)


def _civic_from_element(address: etree._Element) -> CivicAddress:
    found: dict[str, str] = {}
    extras: list[tuple[str, str]] = []
    for child in address:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        value = clean_text(child.text or "")
        if qname.namespace == NS_CA and qname.localname not in found:
            found[qname.localname] = value
        elif qname.namespace == NS_CAE and qname.localname == "STP" and "STP" not in found:
            found["STP"] = value
        elif value:
            extras.append((qname.localname, value))
    country = found.pop("country", "")
    mapped = {field_name: found.pop(element, "") for field_name, element in _PLAIN_FIELDS}
    for field_name, element in _UNIT_FIELDS:
        mapped[field_name] = cldxf.abbreviate_unit(found.pop(element, ""))
    mapped["prefix_directional"] = cldxf.abbreviate_directional(found.pop("PRD", ""))
    mapped["post_directional"] = cldxf.abbreviate_directional(found.pop("POD", ""))
    street_type = found.pop("STS", "")
    prefix_type = found.pop("STP", "")
    if street_type:
        mapped["street_suffix"] = cldxf.abbreviate_street_type(street_type, country)
        if prefix_type:
            extras.append(("STP", prefix_type))
    else:
        mapped["street_suffix"] = cldxf.abbreviate_street_type(prefix_type, country, prefix=True)
    extras[:0] = [(name, value) for name, value in found.items() if value]
    return CivicAddress(country=country, extras=tuple(extras), **mapped)


def read_pidf(xml: bytes) -> PidfLocation:
    """Parse a PIDF-LO holding a civic address: the first geopriv whose location-info has a
    ca:civicAddress (RFC 5491 s3: every geopriv in a document describes the same location).

    Words are turned back into postal abbreviations ("Street" -> "ST"); RFC 5139 elements
    our profile does not map (A5, LMK, NAM, ...) land in `CivicAddress.extras` as
    (element, value). Raises `PidfError` for non-XML, a DOCTYPE, a non-PIDF root or no civic
    address. External entities and the network are never touched.
    """
    root = _parse(xml)
    for geopriv in root.iter(f"{{{NS_GP}}}geopriv"):
        address = geopriv.find(f"{{{NS_GP}}}location-info/{{{NS_CA}}}civicAddress")
        if address is not None:
            break
    else:
        raise PidfError("no gp:geopriv with a ca:civicAddress")

    parent = geopriv.getparent()
    holder = parent
    element: LocationElement | None = None
    timestamp_tag = f"{{{NS_DM}}}timestamp"
    if parent is not None and parent.tag == f"{{{NS_DM}}}device":
        element = LocationElement.DEVICE
    elif parent is not None and parent.tag == f"{{{NS_PIDF}}}status":
        element = LocationElement.TUPLE
        holder = parent.getparent()
        timestamp_tag = f"{{{NS_PIDF}}}timestamp"
    device_id = "" if holder is None else _text(holder, f"{{{NS_DM}}}deviceID")
    timestamp = None if holder is None else _datetime(_text(holder, timestamp_tag))

    reference = geopriv.find(f"{{{NS_GP}}}provided-by/{{{NS_ECD}}}EmergencyCallDataReference")
    usage = f"{{{NS_GP}}}usage-rules/{{{NS_GBP}}}"
    return PidfLocation(
        civic=_civic_from_element(address),
        entity=clean_text(root.get("entity", "")),
        device_id=device_id,
        method=_text(geopriv, f"{{{NS_GP}}}method"),
        timestamp=timestamp,
        retransmission_allowed=_boolean(_text(geopriv, usage + "retransmission-allowed")),
        retention_expiry=_datetime(_text(geopriv, usage + "retention-expiry")),
        provided_by=None if reference is None else clean_text(reference.get("ref", "")),
        lang=clean_text(address.get(_XML_LANG, "")),
        element=element,
    )


def from_pidf(xml: bytes) -> CivicAddress:
    """The civic address of a PIDF-LO; the inverse of `to_pidf` (see `read_pidf`)."""
    return read_pidf(xml).civic
