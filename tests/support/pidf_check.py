"""Test helper: check a PIDF-LO and an emergency INVITE the way a strict PSAP would.

Reusable by every test that captures an INVITE (SIPp UAS, raw socket, pjsua2 UAS):

    from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
    captured = assert_emergency_invite(raw_text, InviteExpectation(callback_number=...))

- `validate_pidf(xml)` -> list of problems ([] = valid): XSD validation against
  router/schemas/pidf/pidf-lo-bundle.xsd (shipped with the router; it imports every PIDF-LO
  namespace, PROVENANCE.md beside it says where each schema came from) plus the rule layer for
  what the lax wildcards let through (docs/pidf-lo.md).
- `parse_sip_message(raw)` and `extract_location_parts(raw)`: a captured SIP message, its
  multipart/mixed body split with the `email` package into the PIDF-LO, its Content-ID and
  the SDP.
- `assert_emergency_invite(raw, expect)`: RFC 6442 / 3325 / 3261 conformance of the whole
  INVITE; raises one AssertionError listing every problem; returns the parsed pieces.
- `validate_additional_data(xml, purpose)`: an RFC 7852 block (ProviderInfo, ServiceInfo,
  SubscriberInfo) checked by a rule layer (the RFC 7852 XSDs are not shipped yet:
  router/schemas/pidf/PROVENANCE.md, "Not obtained"); `assert_emergency_invite` with
  `additional_data=True` checks the Call-Info cid: URLs against the parts (RFC 7852 s4.1).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from email import policy
from email.message import Message
from email.parser import BytesParser
from urllib.parse import unquote

from lxml import etree

from router.call.additional_data import NS_PROVIDER, NS_SERVICE, NS_SUBSCRIBER, NS_VCARD
from router.call.emergency_invite import EmergencyInviteContent, render_multipart_body
from router.location.civic import CivicAddress
from router.pidf import (
    NS_CA,
    NS_CAE,
    NS_DM,
    NS_ECD,
    NS_GBP,
    NS_GP,
    NS_PIDF,
    PidfError,
    from_pidf,
)
from router.schemas import PIDF_LO_BUNDLE
from tests.support.sip_messages import SipMessage, parse_sip_message

__all__ = [
    "CapturedInvite",
    "CapturedPart",
    "InviteExpectation",
    "LocationParts",
    "SipMessage",
    "assert_emergency_invite",
    "build_raw_invite",
    "extract_location_parts",
    "parse_sip_message",
    "pidf_schema",
    "validate_additional_data",
    "validate_pidf",
]

# Namespaces a PIDF-LO may legitimately use; anything that merely looks like one of them is a
# misspelling the lax wildcards would let through silently (docs/pidf-lo.md, "Checking").
_KNOWN_NAMESPACES = frozenset({
    NS_PIDF, NS_DM, NS_GP, NS_GBP, NS_CA, NS_CAE, NS_ECD,
    "urn:ietf:params:xml:ns:pidf:geopriv10:dynamic",  # RFC 5962
    "urn:ietf:params:xml:ns:pidf:geopriv10:civicLoc",  # RFC 4119 original civic format
    "urn:ietf:params:xml:ns:geopriv:conf",  # RFC 7459 confidence
    "http://www.opengis.net/gml",  # RFC 5491 shapes
    "http://www.opengis.net/pidflo/1.0",
    "urn:nena:xml:ns:pidf:nenaCivicAddr",
    "urn:nena:xml:ns:pidf:nenaCivicAddr2",
    "http://www.w3.org/XML/1998/namespace",
})
_LOOKALIKE = re.compile(r"pidf|geopriv|civic|emergencycalldata|opengis|nena", re.IGNORECASE)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_AWARE_DATETIME = re.compile(r".*T.*(?:Z|[+-][0-9]{2}:[0-9]{2})")
_PAI = re.compile(
    r'(?:"(?P<name>[A-Za-z0-9 ]*)" )?<sip:(?P<number>\+1[2-9][0-9]{2}[2-9][0-9]{6})'
    r"@(?P<host>[^;>@\s]+);user=phone>"
)
_BCHARS = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


@functools.cache
def pidf_schema() -> etree.XMLSchema:
    """The compiled PIDF-LO schema set (offline: every import resolves to a shipped file)."""
    parser = etree.XMLParser(no_network=True)
    return etree.XMLSchema(etree.parse(str(PIDF_LO_BUNDLE), parser))


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _rule_problems(root: etree._Element) -> list[str]:
    """The rule layer: what XSD validation cannot see (docs/pidf-lo.md, "Checking")."""
    problems: list[str] = []
    if root.tag != _q(NS_PIDF, "presence"):
        return [f"root element is {etree.QName(root).text}, expected {{{NS_PIDF}}}presence"]
    if _URI.fullmatch(root.get("entity", "")) is None:
        problems.append("presence/@entity is not a URI (RFC 4119 s2.1: the Target, pres:...)")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        namespace = etree.QName(element).namespace or ""
        if namespace not in _KNOWN_NAMESPACES and (not namespace or _LOOKALIKE.search(namespace)):
            problems.append(
                f"line {element.sourceline}: <{etree.QName(element).localname}> in unknown "
                f"namespace {namespace!r} (misspelled?)")

    geoprivs = list(root.iter(_q(NS_GP, "geopriv")))
    if not geoprivs:
        problems.append("no gp:geopriv element (RFC 4119 s2.2)")
    holders = {_q(NS_DM, "device"), _q(NS_DM, "person")}
    for geopriv in geoprivs:
        where = f"line {geopriv.sourceline}: "
        parent = geopriv.getparent()
        assert parent is not None
        grandparent = parent.getparent()
        if parent.tag == _q(NS_PIDF, "status"):
            holder = grandparent
        elif parent.tag in holders:
            holder = parent
        else:
            problems.append(
                where + f"gp:geopriv under {etree.QName(parent).localname}; it belongs in "
                "tuple/status, dm:device or dm:person (RFC 5491 s3, erratum 1888)")
            continue
        assert holder is not None
        problems.extend(where + p for p in _geopriv_problems(root, geopriv, holder))
    return problems


def _geopriv_problems(
    root: etree._Element, geopriv: etree._Element, holder: etree._Element
) -> list[str]:
    problems: list[str] = []
    info = geopriv.find(_q(NS_GP, "location-info"))
    if info is None or len(info) == 0:
        problems.append("gp:location-info is missing or empty")
    else:
        for address in info.iter(_q(NS_CA, "civicAddress")):
            for required in ("country", "A1"):
                if not (address.findtext(_q(NS_CA, required)) or "").strip():
                    problems.append(f"ca:civicAddress has no ca:{required} (CLDXF requires it)")
    rules = geopriv.find(_q(NS_GP, "usage-rules"))
    if rules is None:
        problems.append("gp:usage-rules is missing (mandatory, RFC 4119 s2.2.2)")
    else:
        allowed = rules.findtext(_q(NS_GBP, "retransmission-allowed"))
        if allowed is None:
            problems.append("gbp:retransmission-allowed is missing")
        elif allowed.strip() not in ("true", "false"):
            problems.append(
                f"gbp:retransmission-allowed is {allowed.strip()!r}; send true or false")
        expiry = rules.findtext(_q(NS_GBP, "retention-expiry"))
        if expiry is not None and _AWARE_DATETIME.fullmatch(expiry.strip()) is None:
            problems.append("gbp:retention-expiry has no time zone")
    if not (geopriv.findtext(_q(NS_GP, "method")) or "").strip():
        problems.append("gp:method is missing (RFC 5491 s3: say how the location was found)")

    device_ids = [holder.find(_q(NS_DM, "deviceID"))]
    if holder.tag == _q(NS_DM, "person"):
        device_ids = list(root.iter(_q(NS_DM, "deviceID")))
    device_id = next((d for d in device_ids if d is not None), None)
    if device_id is None:
        problems.append("no dm:deviceID for the located device (RFC 4479 s3.4.1)")
    elif _URI.fullmatch((device_id.text or "").strip()) is None:
        problems.append("dm:deviceID is not a URN/URI (urn:uuid:..., mac:...)")
    timestamp_tag = (_q(NS_PIDF, "timestamp") if holder.tag == _q(NS_PIDF, "tuple")
                     else _q(NS_DM, "timestamp"))
    timestamp = holder.findtext(timestamp_tag)
    if timestamp is None:
        problems.append(f"no {etree.QName(timestamp_tag).localname} beside the geopriv "
                        "(RFC 5491 s3: include method and timestamp)")
    elif _AWARE_DATETIME.fullmatch(timestamp.strip()) is None:
        problems.append("timestamp has no time zone")
    return problems


def validate_pidf(xml: bytes) -> list[str]:
    """Every problem found in a PIDF-LO document: XSD errors ("schema: ...") then rule-layer
    findings. [] means valid. Skips the calling test if the schemas are absent."""
    schema = pidf_schema()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed: {exc}"]
    problems = []
    if not schema.validate(root):
        problems = [f"schema: line {e.line}: {e.message}" for e in schema.error_log]
    return problems + _rule_problems(root)


@dataclass(frozen=True, slots=True)
class CapturedPart:
    media_type: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class LocationParts:
    """What the body of a captured emergency INVITE holds."""

    pidf: bytes | None
    """The application/pidf+xml part's bytes (None when absent)."""
    content_id: str | None
    """That part's Content-ID without angle brackets."""
    sdp: str | None
    """The application/sdp part (or the whole body when it is plain SDP)."""
    parts: tuple[CapturedPart, ...] = ()
    boundary: str | None = None
    problems: tuple[str, ...] = ()
    """Structural findings: boundary syntax, missing delimiters, email-package defects."""


def _multipart_problems(body: bytes, boundary: str) -> list[str]:
    problems = []
    if _BCHARS.fullmatch(boundary) is None:
        problems.append(f"boundary {boundary!r} is not 1-70 RFC 2046 bchars (no trailing space)")
    lines = re.split(rb"\r?\n", body)
    delimiter = b"--" + boundary.encode()
    opens = [i for i, line in enumerate(lines) if line.rstrip(b" \t") == delimiter]
    closes = [i for i, line in enumerate(lines) if line.rstrip(b" \t") == delimiter + b"--"]
    if not opens:
        problems.append("no delimiter line --boundary in the body")
    if len(closes) != 1:
        problems.append(f"{len(closes)} close delimiters --boundary-- (want exactly 1)")
    elif opens and closes[0] < opens[-1]:
        problems.append("close delimiter before the last part")
    # RFC 2046 s5.1.1: delimiter = CRLF "--" boundary; the CRLF belongs to the delimiter.
    # (A bare LF inside an application/* part body is the part's own business.)
    for match in re.finditer(rb"(?m)^--" + re.escape(boundary.encode()), body):
        start, end = match.start(), body.find(b"\n", match.end())
        if start >= 1 and body[start - 2 : start] != b"\r\n":
            problems.append(f"delimiter at byte {start} not preceded by CRLF")
        if end != -1 and body[end - 1 : end] != b"\r":
            problems.append(f"delimiter line at byte {start} not ended by CRLF")
    return problems


def extract_location_parts(raw: str | bytes) -> LocationParts:
    """Split a captured INVITE's body: the PIDF-LO part, its Content-ID and the SDP."""
    message = parse_sip_message(raw)
    content_type = message.header("Content-Type") or ""
    if not content_type.lower().startswith("multipart/"):
        sdp = message.body.decode("utf-8") if "sdp" in content_type.lower() else None
        return LocationParts(pidf=None, content_id=None, sdp=sdp)
    mime: Message = BytesParser(policy=policy.compat32).parsebytes(
        b"MIME-Version: 1.0\r\nContent-Type: " + content_type.encode() + b"\r\n\r\n"
        + message.body)
    boundary = mime.get_boundary()
    problems = [f"email package: {type(d).__name__}" for d in mime.defects]
    if boundary is None:
        return LocationParts(pidf=None, content_id=None, sdp=None,
                             problems=(*problems, "multipart Content-Type without boundary"))
    problems += _multipart_problems(message.body, boundary)
    parts: list[CapturedPart] = []
    for sub in mime.walk():
        if sub is mime or sub.is_multipart():
            continue
        payload = sub.get_payload(decode=True)
        problems += [f"email package: {type(d).__name__}" for d in sub.defects]
        parts.append(CapturedPart(
            media_type=sub.get_content_type(),
            headers=tuple((k, str(v)) for k, v in sub.items()),
            body=payload if isinstance(payload, bytes) else b"",
        ))
    pidf_parts = [p for p in parts if p.media_type == "application/pidf+xml"]
    sdp_parts = [p for p in parts if p.media_type == "application/sdp"]
    content_id = None
    if pidf_parts:
        raw_id = next((v for k, v in pidf_parts[0].headers if k.lower() == "content-id"), None)
        content_id = None if raw_id is None else raw_id.strip().removeprefix("<").removesuffix(">")
    return LocationParts(
        pidf=pidf_parts[0].body if pidf_parts else None,
        content_id=content_id,
        sdp=sdp_parts[0].body.decode("utf-8") if sdp_parts else None,
        parts=tuple(parts),
        boundary=boundary,
        problems=tuple(problems),
    )


@dataclass(frozen=True, slots=True)
class InviteExpectation:
    """What a test expects of an emergency INVITE; None means "don't check"."""

    request_user: str | None = "911"
    """User part of the Request-URI ("911", "933")."""
    request_uri: str | None = None
    callback_number: str | None = None
    """"+1NPANXXXXXX" in the P-Asserted-Identity."""
    display_name: str | None = None
    host: str | None = None
    has_location: bool = True
    """True: PIDF-LO by value required; False: no Geolocation and no PIDF-LO allowed."""
    civic: CivicAddress | None = None
    """Expected `from_pidf` result (plus4 and extras are never sent: compared as empty)."""
    language: str | None = None
    """Expected a=hlang-send / a=hlang-recv tag in the audio section."""
    required_headers: tuple[str, ...] = field(default=())
    """Further header names that must be present."""
    additional_data: bool | None = None
    """True: the RFC 7852 ProviderInfo, ServiceInfo and SubscriberInfo blocks by value, each
    named by a Call-Info cid: URL; False: no Call-Info and no such part; None: not checked."""
    asserted_identity: bool = True
    """False: no callback number is known, so no P-Asserted-Identity is allowed and the
    additional data (when checked) has no SubscriberInfo block, which names that number."""


@dataclass(frozen=True, slots=True)
class CapturedInvite:
    message: SipMessage
    body: LocationParts


def _sdp_has_hlang(sdp: str, tag: str) -> bool:
    in_audio = False
    found: set[str] = set()
    for line in re.split(r"\r?\n", sdp):
        if line.startswith("m="):
            in_audio = line[2:].startswith("audio ")
        elif in_audio and line in (f"a=hlang-send:{tag}", f"a=hlang-recv:{tag}"):
            found.add(line.split(":")[0])
    return found == {"a=hlang-send", "a=hlang-recv"}


def _identity_problems(message: SipMessage, expect: InviteExpectation) -> list[str]:
    problems: list[str] = []
    identities = message.values("P-Asserted-Identity")
    if not expect.asserted_identity:
        return [f"{len(identities)} P-Asserted-Identity headers (want none: no callback)"
                ] if identities else []
    if len(identities) != 1:
        return [f"{len(identities)} P-Asserted-Identity headers (want 1, RFC 3325 s9.1)"]
    pai = _PAI.fullmatch(identities[0])
    if pai is None:
        return [f'P-Asserted-Identity {identities[0]!r} is not "Name" '
                "<sip:+1NPANXXXXXX@host;user=phone>"]
    wanted = {"number": expect.callback_number, "name": expect.display_name,
              "host": expect.host}
    for key, value in wanted.items():
        if value is not None and (pai.group(key) or "") != value:
            problems.append(f"P-Asserted-Identity {key} is {pai.group(key)!r}, want {value!r}")
    return problems


def _location_problems(
    message: SipMessage, body: LocationParts, expect: InviteExpectation
) -> list[str]:
    problems: list[str] = []
    geolocation = message.values("Geolocation")
    if not expect.has_location:
        if geolocation or message.values("Geolocation-Routing") or body.pidf is not None:
            problems.append("a location was sent where none was expected")
        return problems
    cid = re.fullmatch(r"<cid:([^>]+)>", geolocation[0].strip()) if len(geolocation) == 1 else None
    if cid is None:
        problems.append(f"Geolocation {geolocation!r} is not one <cid:...> (RFC 6442 s4.1)")
    if message.values("Geolocation-Routing") != ["yes"]:
        problems.append("Geolocation-Routing is not exactly 'yes' (RFC 6442 s4.2)")
    content_type = (message.header("Content-Type") or "").lower()
    if not content_type.startswith("multipart/mixed"):
        problems.append(f"Content-Type {content_type!r} is not multipart/mixed")
    problems.extend(body.problems)
    pidf_count = sum(p.media_type == "application/pidf+xml" for p in body.parts)
    if pidf_count != 1:
        problems.append(f"{pidf_count} application/pidf+xml parts (want 1)")
    if body.sdp is None:
        problems.append("no application/sdp part")
    # RFC 2392: cid: URL = %-encoded addr-spec of the Content-ID.
    if cid is not None and body.content_id != unquote(cid.group(1)):
        problems.append(
            f"Geolocation cid {cid.group(1)!r} does not name the PIDF-LO Content-ID "
            f"{body.content_id!r} (RFC 6442 s4.1, RFC 2392)")
    if body.pidf is not None:
        problems.extend(f"PIDF-LO: {p}" for p in validate_pidf(body.pidf))
        if expect.civic is not None:
            try:
                got = from_pidf(body.pidf)
            except PidfError as exc:
                problems.append(f"PIDF-LO does not parse back: {exc}")
            else:
                want = replace(expect.civic, plus4="", extras=())
                if replace(got, extras=()) != want:
                    problems.append(f"PIDF-LO address {got} != expected {want}")
    return problems


def assert_emergency_invite(
    raw_invite: str | bytes, expect: InviteExpectation | None = None
) -> CapturedInvite:
    """Check a captured emergency INVITE; AssertionError lists every problem found.

    Checks: INVITE start line and Request-URI user, `Priority: emergency` (RFC 3261 s20.26),
    one P-Asserted-Identity `"Name" <sip:+1NPANXXXXXX@host;user=phone>` (RFC 3325) with a
    letters/digits/spaces name, Content-Length, and with a location: one `Geolocation:
    <cid:...>` naming the PIDF-LO part's Content-ID, `Geolocation-Routing: yes` (RFC 6442),
    a well-formed multipart/mixed body with the PIDF-LO and the SDP, a schema- and rule-valid
    PIDF-LO (`validate_pidf`), and optionally the address and the SDP hlang language.
    """
    expect = expect or InviteExpectation()
    message = parse_sip_message(raw_invite)
    body = extract_location_parts(raw_invite)
    problems: list[str] = []

    start = re.fullmatch(r"INVITE (?P<uri>\S+) SIP/2\.0", message.start_line)
    if start is None:
        problems.append(f"start line {message.start_line!r} is not an INVITE")
    else:
        uri = start.group("uri")
        if expect.request_uri is not None and uri != expect.request_uri:
            problems.append(f"Request-URI {uri!r}, want {expect.request_uri!r}")
        user = re.match(r"sips?:([^@;]+)@", uri)
        if expect.request_user is not None and (user is None or user.group(1)
                                                != expect.request_user):
            problems.append(f"Request-URI {uri!r} does not call {expect.request_user}")
    if message.values("Priority") != ["emergency"]:
        problems.append(f"Priority is {message.values('Priority')!r}, want ['emergency']")
    problems.extend(_identity_problems(message, expect))
    length = message.header("Content-Length")
    if length is not None and length.strip() != str(len(message.body)):
        problems.append(f"Content-Length {length} but the body has {len(message.body)} bytes")
    problems.extend(_location_problems(message, body, expect))
    if expect.language is not None and not _sdp_has_hlang(body.sdp or "", expect.language):
        problems.append(f"SDP audio section lacks a=hlang-send/recv:{expect.language}")
    problems.extend(f"header {name} missing" for name in expect.required_headers
                    if message.header(name) is None)
    if expect.additional_data is not None:
        problems.extend(_additional_data_problems(message, body, expect))
    if problems:
        raise AssertionError("emergency INVITE problems:\n  " + "\n  ".join(problems))
    return CapturedInvite(message=message, body=body)


# RFC 7852 s4.1-s4.4: the children each block must have, in document order [M: from the RFC
# prose and examples; the s8 XSDs would replace this table once shipped].
_ADR_REQUIRED: dict[str, tuple[str, tuple[str, ...]]] = {
    "EmergencyCallData.ProviderInfo": (NS_PROVIDER, (
        "DataProviderReference", "DataProviderString", "ProviderID", "ProviderIDSeries",
        "TypeOfProvider", "ContactURI")),
    "EmergencyCallData.ServiceInfo": (NS_SERVICE, (
        "DataProviderReference", "ServiceEnvironment", "ServiceType", "ServiceMobility")),
    "EmergencyCallData.SubscriberInfo": (NS_SUBSCRIBER, (
        "DataProviderReference", "SubscriberData")),
}
_ADR_MEDIA = {f"application/{purpose.lower()}+xml": purpose for purpose in _ADR_REQUIRED}


def validate_additional_data(xml: bytes, purpose: str) -> list[str]:
    """Problems of one RFC 7852 block ([] = valid): the root element and namespace for
    `purpose` ("EmergencyCallData.ProviderInfo", ...), its required children in order, each
    non-empty, nothing outside the block's namespace but xCard, and for SubscriberInfo a
    boolean privacyRequested and an xCard with a tel: URI."""
    if purpose not in _ADR_REQUIRED:
        return [f"unknown additional-data purpose {purpose!r}"]
    namespace, required = _ADR_REQUIRED[purpose]
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [f"{purpose}: not XML: {exc}"]
    if root.tag != _q(namespace, purpose):
        return [f"root {root.tag!r}, want {_q(namespace, purpose)!r}"]
    problems: list[str] = []
    children = [c for c in root if isinstance(c.tag, str)]
    names = [etree.QName(c).localname for c in children if etree.QName(c).namespace == namespace]
    present = [n for n in names if n in required]
    if present != [n for n in required if n in present]:
        problems.append(f"{purpose}: children out of order: {names}")
    problems.extend(f"{purpose}: no {n}" for n in required if n not in names)
    for child in children:
        if etree.QName(child).namespace != namespace:
            problems.append(f"{purpose}: element {child.tag!r} outside the block's namespace")
        elif len(child) == 0 and not (child.text or "").strip():
            problems.append(f"{purpose}: empty {etree.QName(child).localname}")
    if purpose == "EmergencyCallData.SubscriberInfo":
        if root.get("privacyRequested") not in ("true", "false"):
            problems.append("SubscriberInfo: privacyRequested is not true/false (xs:boolean)")
        uris = root.findall(f".//{_q(NS_VCARD, 'tel')}/{_q(NS_VCARD, 'uri')}")
        if not any(re.fullmatch(r"tel:\+[1-9][0-9]{6,14}", u.text or "") for u in uris):
            problems.append("SubscriberInfo: no xCard tel: URI with an E.164 number")
    return problems


def _additional_data_problems(
    message: SipMessage, body: LocationParts, expect: InviteExpectation
) -> list[str]:
    """RFC 7852 s4.1: every block by value is one part whose Content-ID a Call-Info cid: URL
    with purpose=EmergencyCallData.<Block> names; all blocks share one DataProviderReference."""
    infos = [v.strip() for header in message.values("Call-Info") for v in header.split(",")]
    adr_parts = [p for p in body.parts if p.media_type in _ADR_MEDIA]
    if not expect.additional_data:
        return ["additional data sent where none was expected"] if adr_parts or any(
            "purpose=emergencycalldata." in i.lower() for i in infos) else []
    problems: list[str] = []
    by_cid: dict[str, CapturedPart] = {}
    for part in adr_parts:
        cid = next((v for k, v in part.headers if k.lower() == "content-id"), "")
        by_cid[cid.strip().removeprefix("<").removesuffix(">")] = part
    named: dict[str, str] = {}
    for info in infos:
        match = re.fullmatch(r"<cid:([^>]+)>\s*;\s*purpose=(EmergencyCallData\.\w+)", info)
        if match is None:
            continue
        cid, purpose = unquote(match.group(1)), match.group(2)
        named_part = by_cid.get(cid)
        if named_part is None:
            problems.append(f"Call-Info cid {cid!r} names no body part")
        elif _ADR_MEDIA[named_part.media_type] != purpose:
            problems.append(f"Call-Info purpose {purpose} names a {named_part.media_type} part")
        else:
            named[purpose] = cid
            problems.extend(validate_additional_data(named_part.body, purpose))
    subscriber = "EmergencyCallData.SubscriberInfo"
    wanted = [p for p in _ADR_REQUIRED if expect.asserted_identity or p != subscriber]
    problems.extend(f"no {p} block named from Call-Info" for p in wanted if p not in named)
    if not expect.asserted_identity and subscriber in named:
        problems.append("a SubscriberInfo block sent with no callback number to name")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    references = set()
    for part in adr_parts:
        try:
            root = etree.fromstring(part.body, parser)
        except etree.XMLSyntaxError:
            continue  # reported by validate_additional_data
        references.add(root.findtext("{*}DataProviderReference") or "")
    if len(references) > 1:
        problems.append(f"blocks name different DataProviderReferences: {sorted(references)}")
    return problems


def build_raw_invite(
    content: EmergencyInviteContent,
    sdp: str,
    *,
    boundary: str = "e911-7c1e",
    from_uri: str = "sip:e911-router@198.51.100.10",
    call_id: str = "3848276298220188511@198.51.100.10",
) -> str:
    """A complete INVITE text with `content`, shaped like the one PJSUA sends (our parts
    first, the SDP last): for fixtures, documentation and tests of this checker."""
    if content.parts:
        content_type, body = render_multipart_body(content, sdp, boundary=boundary)
    else:
        content_type, body = "application/sdp", content.sdp_with_language(sdp)
    host = from_uri.split("@", 1)[-1]
    head = [
        f"INVITE {content.request_uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {host}:5060;rport;branch=z9hG4bK-74bf9a1c",
        "Max-Forwards: 70",
        f"From: <{from_uri}>;tag=9fxced76sl",
        f"To: <{content.request_uri}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 INVITE",
        f"Contact: <{from_uri}:5060>",
        # PJSUA puts the account's route set here (RFC 3261 s8.1.2), as measured.
        *([f"Route: {content.route}"] if content.route else []),
        *(f"{name}: {value}" for name, value in content.headers),
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body.encode('utf-8'))}",
    ]
    return "\r\n".join(head) + "\r\n\r\n" + body
