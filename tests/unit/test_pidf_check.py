"""tests/support/pidf_check.py: the checker finds every PIDF-LO pitfall and every INVITE defect."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from router.call.emergency_invite import CallbackIdentity, build_emergency_invite
from router.location.civic import CivicAddress
from router.pidf import LocationElement, to_pidf
from router.schemas import PIDF_LO_BUNDLE, PIDF_XSD_DIR
from tests.support.pidf_check import (
    InviteExpectation,
    assert_emergency_invite,
    build_raw_invite,
    extract_location_parts,
    validate_pidf,
)
from tests.support.sip_messages import parse_sip_message

ADDRESS = CivicAddress(country="US", state="TX", city="AUSTIN", street_name="LAMAR",
                       street_suffix="BLVD", house_number="6500", postal_code="78752")
GOOD = to_pidf(ADDRESS, entity="pres:+12025550123@voip.example.net",
               device_id="mac:00-0d-4b-30-72-df",
               timestamp=datetime(2025, 5, 1, 17, 4, 11, tzinfo=UTC))
GOOD_TUPLE = to_pidf(ADDRESS, entity="pres:+12025550123@voip.example.net",
                     device_id="mac:00-0d-4b-30-72-df", element=LocationElement.TUPLE,
                     timestamp=datetime(2025, 5, 1, 17, 4, 11, tzinfo=UTC))
SDP = ("v=0\r\no=- 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n"
       "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
CONTENT = build_emergency_invite(
    callback=CallbackIdentity(display_name="Front Desk", number="+12025550123",
                              host="voip.example.net"),
    trunk_uri="sip:psap.example.org", language="en", pidf=GOOD, location_token="7c1e")
RAW = build_raw_invite(CONTENT, SDP, boundary="b-7c1e")
ROOT = Path(__file__).resolve().parents[2]
XS = "http://www.w3.org/2001/XMLSchema"


def mutate(document: bytes, old: bytes, new: bytes) -> bytes:
    assert old in document, old
    return document.replace(old, new)


def test_schemas_ship_inside_the_router_package() -> None:
    """Every schema the bundle imports is a file of router/schemas/pidf (package data), with
    its provenance note; nothing outside the repository is read."""
    bundle = etree.parse(str(PIDF_LO_BUNDLE))
    imported = {el.get("schemaLocation") for el in bundle.iter(f"{{{XS}}}import")}
    assert imported == {"xml.xsd", "pidf.xsd", "data-model.xsd", "basicPolicy.xsd",
                        "geopriv10.xsd", "civicAddr.xsd", "civicAddr-ext.xsd", "dynamic.xsd"}
    assert all((PIDF_XSD_DIR / name).is_file() for name in imported)
    assert PIDF_XSD_DIR.parent == ROOT / "router" / "schemas"
    assert "IETF Trust" in (PIDF_XSD_DIR / "PROVENANCE.md").read_text()


def test_every_schema_is_the_file_its_provenance_note_describes() -> None:
    """PROVENANCE.md gives each .xsd's sha256 (first 16 hex); the shipped bytes match, so an
    edited schema cannot pass for the copied one."""
    note = (PIDF_XSD_DIR / "PROVENANCE.md").read_text()
    listed = dict(re.findall(r"^\| `([\w.-]+\.xsd)` \|.*\| ([0-9a-f]{16}) \|", note, re.MULTILINE))
    shipped = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16]
               for p in PIDF_XSD_DIR.glob("*.xsd")}
    assert listed == shipped


def test_schemas_are_in_the_built_package(tmp_path: Path) -> None:
    """A wheel built from the checkout carries every schema file and the provenance note, so
    an installed router (not only a checkout) has them."""
    source = tmp_path / "src"  # a copy: setuptools leaves build/ in the tree it builds
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for package in ("router", "dialplan"):
        shutil.copytree(ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)],
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("e911_router-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {Path(n).name for n in archive.namelist()
                   if n.startswith("router/schemas/pidf/")}
        metadata = archive.read(next(n for n in archive.namelist()
                                     if n.endswith(".dist-info/METADATA"))).decode()
    # PJSIP (the pjsua2 wheel) is GPL-2.0-or-later: the project is too (LICENSE, pyproject).
    assert "License-Expression: GPL-2.0-or-later" in metadata.splitlines()
    assert shipped == {p.name for p in PIDF_XSD_DIR.iterdir() if p.is_file()}


@pytest.mark.parametrize("document", [GOOD, GOOD_TUPLE], ids=["device", "tuple"])
def test_our_documents_have_no_problems(document: bytes) -> None:
    """Device and tuple documents from to_pidf validate clean."""
    assert validate_pidf(document) == []


@pytest.mark.parametrize(("old", "new", "schema_says", "rule_says"), [
    (b">true<", b">yes<", "'yes' is not a valid value", "send true or false"),
    (b"<gp:usage-rules><gbp:retransmission-allowed>true</gbp:retransmission-allowed>"
     b"</gp:usage-rules>", b"", "usage-rules", "gp:usage-rules is missing"),
    (b"<dm:deviceID>mac:00-0d-4b-30-72-df</dm:deviceID>", b"", "deviceID",
     "no dm:deviceID"),
    (b"<ca:RD>LAMAR</ca:RD><ca:STS>Boulevard</ca:STS>",
     b"<ca:STS>Boulevard</ca:STS><ca:RD>LAMAR</ca:RD>", "RD': This element is not expected",
     None),
    (b"<ca:A1>TX</ca:A1>", b"<ca:A1>TX</ca:A1><ca:A1>OK</ca:A1>",
     "A1': This element is not expected", None),
    (b"<ca:A3>AUSTIN</ca:A3>", b"<ca:A3>AUSTIN</ca:A3><ca:STP>Rue</ca:STP>",
     "STP': This element is not expected", None),
])
def test_schema_and_rules_catch_the_known_pitfalls(
    old: bytes, new: bytes, schema_says: str, rule_says: str | None
) -> None:
    """yes/no, missing usage-rules or deviceID, element order and duplicates are reported."""
    problems = validate_pidf(mutate(GOOD, old, new))
    assert any(p.startswith("schema:") and schema_says in p for p in problems), problems
    if rule_says is not None:
        assert any(rule_says in p for p in problems), problems


@pytest.mark.parametrize(("old", "new", "rule_says"), [
    (b"geopriv10:civicAddr\"", b"geopriv10:civicAdr\"", "unknown namespace"),
    (b'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"',
     b'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv11"', "no gp:geopriv"),
    (b"<gp:method>Manual</gp:method>", b"", "gp:method is missing"),
    (b"<dm:timestamp>2025-05-01T17:04:11Z</dm:timestamp>", b"", "no timestamp"),
    (b"2025-05-01T17:04:11Z", b"2025-05-01T17:04:11", "timestamp has no time zone"),
    (b"<ca:country>US</ca:country>", b"", "no ca:country"),
    (b"<ca:A1>TX</ca:A1>", b"", "no ca:A1"),
    (b'entity="pres:+12025550123@voip.example.net"', b'entity="+12025550123"',
     "entity is not a URI"),
    (b"<dm:deviceID>mac:00-0d-4b-30-72-df</dm:deviceID>",
     b"<dm:deviceID>00-0d-4b-30-72-df</dm:deviceID>", "not a URN/URI"),
])
def test_rule_layer_catches_what_the_lax_schema_lets_through(
    old: bytes, new: bytes, rule_says: str
) -> None:
    """Misspelled namespaces, missing method/timestamp/country: schema silent, rules not."""
    problems = validate_pidf(mutate(GOOD, old, new))
    assert any(rule_says in p for p in problems), problems


def test_geopriv_directly_under_tuple_passes_xsd_but_not_the_rules() -> None:
    """tuple/geopriv (no status) is schema-valid via the wildcard; the rule layer refuses it."""
    document = mutate(mutate(GOOD_TUPLE, b"<status>", b"<status/>"), b"</status>", b"")
    problems = validate_pidf(document)
    assert not any(p.startswith("schema:") for p in problems), problems
    assert any("gp:geopriv under tuple" in p for p in problems), problems


def test_unescaped_ampersand_is_not_well_formed() -> None:
    """A raw & in a value is reported as not well-formed XML."""
    problems = validate_pidf(mutate(GOOD, b"LAMAR", b"AT&T"))
    assert len(problems) == 1 and problems[0].startswith("not well-formed"), problems


def test_parse_sip_message_handles_lf_folding_and_compact_names() -> None:
    """Bare LF, a folded header and compact names (c, l, i, f, t, v) are understood."""
    message = parse_sip_message(
        "\r\nINVITE sip:911@t SIP/2.0\nv: SIP/2.0/UDP h\ni: abc\nf: <sip:a@b>\nt: <sip:911@t>\n"
        "Subject: one\n  two\nc: application/sdp\nl: 4\n\nv=0\n")
    assert message.start_line == "INVITE sip:911@t SIP/2.0"
    assert message.header("Call-ID") == "abc"
    assert message.header("content-type") == "application/sdp"
    assert message.header("Subject") == "one two"
    assert message.body == b"v=0\n"


def test_extract_location_parts_reads_pidf_content_id_and_sdp() -> None:
    """The body splits into the PIDF-LO bytes, its Content-ID and the SDP text."""
    parts = extract_location_parts(RAW)
    assert parts.content_id == "loc-7c1e@voip.example.net"
    assert parts.pidf == GOOD
    assert parts.sdp == SDP + "a=hlang-send:en\r\na=hlang-recv:en\r\n"
    assert parts.boundary == "b-7c1e"
    assert [p.media_type for p in parts.parts] == ["application/pidf+xml", "application/sdp"]
    assert parts.problems == ()


def test_extract_keeps_non_ascii_bytes_of_the_pidf() -> None:
    """UTF-8 in the PIDF-LO (Montée, Côte) survives the email package byte for byte."""
    french = to_pidf(CivicAddress(country="CA", state="QC", street_name="CÔTE-DES-NEIGES",
                                  street_suffix="MONTÉE", house_number="5"),
                     entity="pres:+15145550100@voip.example.net", device_id="mac:00-11",
                     timestamp=datetime(2025, 5, 1, tzinfo=UTC), lang="fr-CA")
    content = build_emergency_invite(
        callback=CallbackIdentity(display_name="x", number="5145550100", host="h.example"),
        trunk_uri="sip:t.example", language="fr", pidf=french)
    parts = extract_location_parts(build_raw_invite(content, SDP).encode("utf-8"))
    assert parts.pidf is not None
    assert "Montée".encode() in parts.pidf and "CÔTE-DES-NEIGES".encode() in parts.pidf


def test_good_invite_passes() -> None:
    """The reference INVITE passes with every expectation set."""
    captured = assert_emergency_invite(RAW, InviteExpectation(
        request_uri="sip:911@psap.example.org", callback_number="+12025550123",
        display_name="Front Desk", host="voip.example.net", civic=ADDRESS, language="en",
        required_headers=("Call-ID", "Contact")))
    assert captured.message.header("Priority") == "emergency"


@pytest.mark.parametrize(("old", "new", "complaint"), [
    ("Geolocation: <cid:loc-7c1e@voip.example.net>",
     "Geolocation: <cid:loc-other@voip.example.net>", "does not name the PIDF-LO Content-ID"),
    ("Geolocation: <cid:loc-7c1e@voip.example.net>", "Geolocation: <https://lis.example/x>",
     "is not one <cid:...>"),
    ("Geolocation-Routing: yes", "Geolocation-Routing: no", "Geolocation-Routing"),
    ("Priority: emergency\r\n", "", "Priority is []"),
    ("Priority: emergency", "Priority: urgent", "Priority is ['urgent']"),
    ('"Front Desk" <sip:+12025550123@voip.example.net;user=phone>',
     "<sip:2025550123@voip.example.net>", "P-Asserted-Identity '<sip:2025550123"),
    ('"Front Desk"', '"Front-Desk!"', "is not \"Name\""),
    ("INVITE sip:911@", "INVITE sip:912@", "does not call 911"),
    ("Content-ID: <loc-7c1e@voip.example.net>", "Content-ID: <loc-x@voip.example.net>",
     "does not name the PIDF-LO Content-ID"),
    ("--b-7c1e--", "--b-7c1e", "0 close delimiters"),
    ("Content-Type: application/pidf+xml", "Content-Type: application/xml",
     "0 application/pidf+xml parts"),
    (">true<", ">yes<", "PIDF-LO: schema:"),
    ("Content-Length: ", "Content-Length: 1", "Content-Length 1"),
    ("boundary=b-7c1e", "boundary=zzz", "no delimiter line"),
    ("\r\n--b-7c1e\r\nContent-Type: application/sdp", "\n--b-7c1e\r\nContent-Type: application/sdp",
     "not preceded by CRLF"),
    ("--b-7c1e\r\nContent-Type: application/sdp", "--b-7c1e\nContent-Type: application/sdp",
     "not ended by CRLF"),
])
def test_broken_invites_are_reported(old: str, new: str, complaint: str) -> None:
    """Each RFC 6442 / 3325 / 3261 / multipart defect produces its own message."""
    assert old in RAW
    broken = RAW.replace(old, new, 1)
    with pytest.raises(AssertionError, match="emergency INVITE problems") as failure:
        assert_emergency_invite(broken, InviteExpectation(civic=ADDRESS))
    assert complaint in str(failure.value)


def test_wrong_expectations_are_reported() -> None:
    """Number, name, address and language mismatches are each named."""
    with pytest.raises(AssertionError) as failure:
        assert_emergency_invite(RAW, InviteExpectation(
            callback_number="+12025550199", display_name="Lobby",
            civic=ADDRESS.with_changes(house_number="6502"), language="es"))
    text = str(failure.value)
    assert "number is '+12025550123', want '+12025550199'" in text
    assert "name is 'Front Desk', want 'Lobby'" in text
    assert "PIDF-LO address" in text
    assert "a=hlang-send/recv:es" in text


def test_a_location_where_none_was_expected_is_reported() -> None:
    """has_location=False fails on an INVITE that carries one."""
    with pytest.raises(AssertionError, match="a location was sent where none was expected"):
        assert_emergency_invite(RAW, InviteExpectation(has_location=False))
