"""What an outgoing emergency INVITE carries, as data (pure: no pjsua2, no I/O, no clock).

`build_emergency_invite` turns the callback identity, the trunk, the dialled class's user
part, the caller's language and an optional PIDF-LO into a frozen `EmergencyInviteContent`:

    request URI   sip:911@trunk-host:port;params          (933 for test calls)
                  urn:service:sos for a 911 with RequestUriMode.SOS (NENA i3 ESInet trunks,
                  RFC 5031 s4.2); the trunk then goes in `route` (RFC 3261 s8.1.2)
    headers       P-Asserted-Identity  "Name" <sip:+1NPANXXXXXX@host;user=phone>  RFC 3325 s9.1
                                        only with a callback number (callback=None: none)
                  Priority: emergency                                              RFC 3261 s20.26
                  Geolocation: <cid:loc-...@host>       only with a PIDF-LO       RFC 6442 s4.1
                  Geolocation-Routing: yes              only with a PIDF-LO       RFC 6442 s4.2
    body part     application/pidf+xml, Content-ID <loc-...@host> (RFC 2392), optional
                  Content-Disposition: by-reference;handling=optional (RFC 5621 s9.1)
    hlang         a=hlang-send / a=hlang-recv for the SDP's audio section (RFC 8373)
    with SOS      Call-Info: <cid:...>;purpose=EmergencyCallData.ProviderInfo|ServiceInfo|
                  SubscriberInfo and one body part per block (RFC 7852 s4.1, s6.1);
                  no SubscriberInfo without a callback number

The SIP layer converts the part into a pjsua2 `SipMultipartPart` (headers, contentType
type/subtype, body) in `SipTxOption.multipartParts`, sets `multipartContentType` to
multipart/mixed, and PJSUA appends the SDP part last (RFC 5621 allows any order).
`render_multipart_body` renders the same body as text for paths that build the message
themselves (a Kamailio `set_body()`, test fixtures).

Every value that reaches a header goes through `router.sipsafe`; a value that cannot be made
safe raises `ValueError` here, before anything is sent.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from router import sipsafe
from router.call.additional_data import ProviderIdentity, additional_data_blocks
from router.hlang import add_hlang, hlang_sdp_lines, language_tag

__all__ = [
    "MULTIPART_MIXED",
    "PIDF_CONTENT_TYPE",
    "SOS_SERVICE_URN",
    "BodyPart",
    "CallbackIdentity",
    "EmergencyInviteContent",
    "RequestUriMode",
    "build_emergency_invite",
    "nanp_e164",
    "render_multipart_body",
    "trunk_request_uri",
    "trunk_route",
]

PIDF_CONTENT_TYPE: Final = ("application", "pidf+xml")
"""RFC 4119 s4 / RFC 3863: the PIDF-LO media type, as pjsua2's SipMediaType type/subType."""
MULTIPART_MIXED: Final = ("multipart", "mixed")
"""RFC 6442 s3.1 / RFC 5621: the message body type when a location is sent by value."""

# NANP (US/CA): NPA and NXX start 2-9; an N11 code is a service code, never an area code.
_NANP = re.compile(r"\+?1?([2-9](?!11)[0-9]{2}[2-9][0-9]{6})")
_DIALLED_USER = re.compile(r"[0-9A-Za-z*#+]{1,32}")
_LOCATION_TOKEN = re.compile(r"[A-Za-z0-9-]{1,64}")
# scheme ":" [userinfo "@"] hostport *(";" uri-parameter) ["?" headers]  (RFC 3261 s19.1.1)
_SIP_URI = re.compile(
    r"(?P<scheme>sips?):(?:[^@;?]*@)?(?P<hostport>\[[0-9A-Fa-f:.]+\](?::[0-9]*)?|[^;?]+)"
    r"(?P<params>(?:;[^?]*)?)(?:\?.*)?",
    re.IGNORECASE,
)
_URI_PARAMS = re.compile(r"(?:;[A-Za-z0-9\-_.!~*'()%]+(?:=[A-Za-z0-9\-_.!~*'()%\[\]:]+)?)*")
_CID_DOMAIN_FALLBACK: Final = "e911-router.invalid"
SOS_SERVICE_URN: Final = "urn:service:sos"
"""RFC 5031 s4.2: the emergency service URN an NG911 (NENA i3) ESInet routes on."""


class RequestUriMode(StrEnum):
    """E911_EMERGENCY_REQUEST_URI: what a 911 INVITE's Request-URI names."""

    TRUNK = "trunk"
    """`sip:911@trunk`: what carrier E911 trunks (selective-router gateways) take today."""
    SOS = "sos"
    """`urn:service:sos` with the trunk as the Route, plus RFC 7852 additional data."""


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One body part of the multipart/mixed body, in the shape pjsua2's SipMultipartPart
    wants: headers other than Content-Type, the media type split, and the body text."""

    content_type: str
    """"application" (SipMediaType.type)."""
    content_subtype: str
    """"pidf+xml" (SipMediaType.subType)."""
    headers: tuple[tuple[str, str], ...]
    """(name, value), in order: Content-ID, then Content-Disposition when asked for."""
    body: str
    """The part's body text (UTF-8 XML for the PIDF-LO)."""

    @property
    def media_type(self) -> str:
        return f"{self.content_type}/{self.content_subtype}"

    def header(self, name: str) -> str | None:
        """First header value by case-insensitive name."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)


@dataclass(frozen=True, slots=True)
class CallbackIdentity:
    """Who the PSAP calls back: the user's or the account's number, per the user's choice."""

    display_name: str
    """As typed; reduced to letters, digits and spaces by the builder."""
    number: str
    """NANP number in any common form; sent as +1NPANXXXXXX."""
    host: str
    """Host of the P-Asserted-Identity URI (our SIP domain)."""


@dataclass(frozen=True, slots=True)
class EmergencyInviteContent:
    """Everything our emergency INVITE adds to what pjsua2 builds itself."""

    request_uri: str
    headers: tuple[tuple[str, str], ...]
    """(name, value) in send order; every value checked by `sipsafe.header_value`."""
    language: str
    """BCP 47 tag for a=hlang-send/recv (RFC 8373)."""
    pidf_part: BodyPart | None = None
    """The PIDF-LO body part, or None (no location: no Geolocation headers either)."""
    multipart_type: tuple[str, str] = field(default=MULTIPART_MIXED)
    additional_parts: tuple[BodyPart, ...] = ()
    """RFC 7852 blocks by value (RequestUriMode.SOS), after the PIDF-LO."""
    route: str = ""
    """`<sip:trunk;lr>` when the Request-URI is a service URN: where the INVITE goes
    (RFC 3261 s8.1.2, loose routing); "" when the Request-URI is the trunk itself."""

    @property
    def content_id(self) -> str | None:
        """The Content-ID without angle brackets ("loc-...@host"), or None."""
        if self.pidf_part is None:
            return None
        value = self.pidf_part.header("Content-ID")
        return None if value is None else value.strip("<>")

    @property
    def parts(self) -> tuple[BodyPart, ...]:
        """The body parts to hand to the SIP stack (the SDP is added by PJSUA, last)."""
        located = () if self.pidf_part is None else (self.pidf_part,)
        return located + self.additional_parts

    def header(self, name: str) -> str | None:
        """First header value by case-insensitive name."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def hlang_lines(self) -> list[str]:
        return hlang_sdp_lines(self.language)

    def sdp_with_language(self, sdp: str) -> str:
        """The caller's SDP offer with our hlang lines in its audio section."""
        return add_hlang(sdp, self.language)


def nanp_e164(number: str) -> str:
    """A US/Canada number as E.164 "+1NPANXXXXXX"; `ValueError` for anything else."""
    digits = sipsafe.sip_uri_user(number)
    match = _NANP.fullmatch(digits)
    if match is None or (digits.startswith("+") and not digits.startswith("+1")):
        raise ValueError("callback number is not a NANP number (+1 NPA NXX XXXX)")
    return f"+1{match.group(1)}"


def trunk_request_uri(trunk_uri: str, user: str) -> str:
    """`sip:<user>@<trunk host:port><;params>`: the trunk's user part and URI headers are
    dropped, its scheme, host, port and parameters (e.g. ;transport=tcp) kept."""
    if _DIALLED_USER.fullmatch(user) is None:
        raise ValueError(f"not a dialled user part: {user!r}")
    match = _SIP_URI.fullmatch(trunk_uri.strip().removeprefix("<").removesuffix(">"))
    if match is None:
        raise ValueError("trunk must be a sip: or sips: URI")
    hostport = sipsafe.hostport(match.group("hostport"))
    params = match.group("params")
    if _URI_PARAMS.fullmatch(params) is None:
        raise ValueError("trunk URI parameters are not well-formed")
    # "#" is not allowed unescaped in a SIP URI user part (RFC 3261 s25.1 user-unreserved).
    escaped_user = user.replace("#", "%23")
    return f"{match.group('scheme').lower()}:{escaped_user}@{hostport}{params}"


def trunk_route(trunk_uri: str) -> str:
    """`<sip:trunk-host:port;params;lr>`: the trunk as a loose-routing Route entry (RFC 3261
    s19.1.1 lr), for an INVITE whose Request-URI is a service URN."""
    uri = trunk_request_uri(trunk_uri, "911")
    scheme, _, rest = uri.partition(":")
    return f"<{scheme}:{rest.partition('@')[2]};lr>"


def _cid_domain(host: str) -> str:
    """RFC 2392 Content-ID domain: our host when it is a name or IPv4 address; an IPv6
    literal would need %-encoding in the cid: URL, so a fixed .invalid name is used."""
    return _CID_DOMAIN_FALLBACK if host.startswith("[") else host


def build_emergency_invite(
    *,
    callback: CallbackIdentity | None,
    trunk_uri: str,
    language: str,
    dialled_user: str = "911",
    pidf: bytes | None = None,
    location_token: str | None = None,
    by_reference_disposition: bool = True,
    request_uri_mode: RequestUriMode = RequestUriMode.TRUNK,
    provider: ProviderIdentity | None = None,
    host: str = "",
) -> EmergencyInviteContent:
    """Build the emergency INVITE content.

    callback: who the PSAP calls back, or None when no callback number is known: then no
        P-Asserted-Identity (there is nothing true to assert), and everything else as usual,
        the location first of all (a located 911 always carries its PIDF-LO).
    host: our SIP host, used when `callback` is None (else `callback.host` is).

    dialled_user: "911", or "933" for a test call (the dialled class decides).
    pidf: the PIDF-LO from `router.pidf.to_pidf`, or None when there is no location.
    location_token: makes the Content-ID unique (RFC 2392); a random one when None.
    by_reference_disposition: add `Content-Disposition: by-reference;handling=optional`
        (RFC 5621 s9.1: the part is referenced from a header; a UAS that cannot read it
        must not fail the call).
    request_uri_mode: SOS sends a 911 to `urn:service:sos` with the trunk in `route`, and
        adds the RFC 7852 blocks (needs `provider`). A 933 keeps `sip:933@trunk`: 933 is the
        carrier's address readback, not a call for a PSAP, and urn:service:sos would put it
        in a call taker's queue as a real emergency.
    Raises `ValueError` for a callback number that is not NANP, a bad or missing host, a bad
    trunk or user.
    """
    headers: list[tuple[str, str]] = []
    number: str | None = None
    name = ""
    if callback is None:
        if not host:
            raise ValueError("host is needed when there is no callback identity")
        host = sipsafe.host(host)
    else:
        number = nanp_e164(callback.number)
        host = sipsafe.host(callback.host)
        name = sipsafe.display_name(callback.display_name)
        uri = f"<sip:{sipsafe.sip_uri_user(number)}@{host};user=phone>"
        # RFC 3325 s9.1: PAssertedID-value = name-addr / addr-spec; name-addr's display-name
        # is a quoted-string. An empty name is left out rather than sent as "".
        identity = f"{sipsafe.quoted_string(name)} {uri}" if name else uri
        headers.append(("P-Asserted-Identity", identity))
    headers.append(("Priority", "emergency"))  # RFC 3261 s20.26
    part: BodyPart | None = None
    if pidf is not None:
        token = uuid.uuid4().hex[:16] if location_token is None else location_token
        if _LOCATION_TOKEN.fullmatch(token) is None:
            raise ValueError("location_token must be 1-64 letters, digits or '-'")
        content_id = f"loc-{token}@{_cid_domain(host)}"
        # RFC 6442 s4.1: by-value location is a cid: URI (RFC 2392) naming the body part;
        # s4.2: "yes" lets the network route on it (absent means "no").
        headers.append(("Geolocation", f"<cid:{content_id}>"))
        headers.append(("Geolocation-Routing", "yes"))
        part_headers = [("Content-ID", f"<{content_id}>")]
        if by_reference_disposition:
            part_headers.append(("Content-Disposition", "by-reference;handling=optional"))
        part = BodyPart(
            content_type=PIDF_CONTENT_TYPE[0],
            content_subtype=PIDF_CONTENT_TYPE[1],
            headers=tuple(part_headers),
            body=pidf.decode("utf-8"),
        )
    request_uri = trunk_request_uri(trunk_uri, dialled_user)
    route = ""
    extra: tuple[BodyPart, ...] = ()
    if request_uri_mode is RequestUriMode.SOS and dialled_user == "911":
        if provider is None:
            raise ValueError("RequestUriMode.SOS needs the provider identity (RFC 7852)")
        route = trunk_route(trunk_uri)
        request_uri = SOS_SERVICE_URN
        token = uuid.uuid4().hex[:16] if location_token is None else location_token
        blocks = _additional_parts(provider, host=host, name=name, number=number,
                                   token=token, disposition=by_reference_disposition)
        extra = tuple(p for p, _ in blocks)
        # RFC 7852 s4.1 / s6.1: each block by value is a cid: URL in Call-Info whose purpose
        # names the block; one header field per block.
        headers.extend(("Call-Info", f"<cid:{cid}>;purpose={purpose}")
                       for (_, (cid, purpose)) in blocks)
    for _, value in headers:
        sipsafe.header_value(value)
    return EmergencyInviteContent(
        request_uri=request_uri,
        headers=tuple(headers),
        language=language_tag(language),
        pidf_part=part,
        additional_parts=extra,
        route=route,
    )


def _additional_parts(
    provider: ProviderIdentity, *, host: str, name: str, number: str | None, token: str,
    disposition: bool,
) -> list[tuple[BodyPart, tuple[str, str]]]:
    """Each RFC 7852 block as a body part, with its (Content-ID, Call-Info purpose)."""
    if _LOCATION_TOKEN.fullmatch(token) is None:
        raise ValueError("location_token must be 1-64 letters, digits or '-'")
    domain = _cid_domain(host)
    parts = []
    for block in additional_data_blocks(provider, reference_domain=domain, token=token,
                                        display_name=name, callback=number):
        cid = f"{block.block.short}-{token}@{domain}"
        part_headers = [("Content-ID", f"<{cid}>")]
        if disposition:
            part_headers.append(("Content-Disposition", "by-reference;handling=optional"))
        part = BodyPart(content_type="application", content_subtype=block.block.media_subtype,
                        headers=tuple(part_headers), body=block.xml.decode("utf-8"))
        parts.append((part, (cid, block.block.purpose)))
    return parts


def render_multipart_body(
    content: EmergencyInviteContent, sdp: str, *, boundary: str
) -> tuple[str, str]:
    """(Content-Type header value, body) for a multipart/mixed body holding our parts and
    then the SDP, as PJSUA orders them (RFC 2046 s5.1.1: CRLF line ends, delimiter lines
    `--boundary`, close delimiter `--boundary--`). The SDP gets our hlang lines.

    For paths that build the message text themselves (a Kamailio set_body(), fixtures).
    Raises `ValueError` if the boundary is malformed or occurs inside a part.
    """
    # RFC 2046 s5.1.1 bchars, narrowed to RFC 2045 token characters so the boundary needs
    # no quoting in the Content-Type parameter.
    if re.fullmatch(r"[0-9A-Za-z'+_\-.]{1,70}", boundary) is None:
        raise ValueError("boundary must be 1-70 letters, digits or ' + _ - .")
    offer = content.sdp_with_language(sdp)
    pieces: list[tuple[str, str]] = [
        (
            "\r\n".join([f"Content-Type: {p.media_type}", *(f"{n}: {v}" for n, v in p.headers)]),
            p.body,
        )
        for p in content.parts
    ]
    pieces.append(("Content-Type: application/sdp", offer))
    lines: list[str] = []
    for part_headers, body in pieces:
        if f"--{boundary}" in body:
            raise ValueError("boundary occurs inside a body part")
        # The CRLF before each delimiter belongs to the delimiter, so a body's own final
        # CRLF (an SDP's last line end) stays part of the body, as PJSIP prints it.
        crlf_body = body.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
        lines.append(f"--{boundary}\r\n{part_headers}\r\n\r\n{crlf_body}")
    body_text = "\r\n".join(lines) + f"\r\n--{boundary}--\r\n"
    return f"multipart/mixed;boundary={boundary}", body_text
