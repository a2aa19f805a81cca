"""RFC 3680 `reginfo` bodies -> device registrations (router/location/registrations.py),
including the hostile ones a network can send."""

from __future__ import annotations

import pytest

from router.location.registrations import (
    MAX_CONTACTS,
    MAX_REGINFO_BYTES,
    DeviceRegistration,
    Reginfo,
    ReginfoError,
    RegState,
    SkippedContact,
    parse_reginfo,
    uri_ip,
)

KAMAILIO_PUBLISH = b"""<?xml version="1.0"?>
<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">
  <registration aor="sip:1001@pbx.example.net" id="0x7f3a" state="active">
    <contact id="0x7f3b" state="active" event="created" expires="600" callid="a84b4c76e6"
             cseq="2" received="sip:198.51.100.20:41234" path="" user_agent="baresip">
      <uri>sip:1001@10.0.0.5:5060;transport=udp</uri>
    </contact>
  </registration>
</reginfo>
"""


def test_kamailio_pua_reginfo_body_takes_the_received_address() -> None:
    """pua_reginfo's `received` (the NAT-seen source) wins over the contact's private host."""
    assert parse_reginfo(KAMAILIO_PUBLISH) == Reginfo(
        (DeviceRegistration("1001", "198.51.100.20", "sip:1001@10.0.0.5:5060;transport=udp",
                            RegState.REGISTERED, 600),), ())


def test_rfc3680_example_contact_host_and_terminated_states() -> None:
    """Without `received` the contact URI's host is the device; terminated contacts, a
    terminated registration and expires=0 are unregistrations; a hostname is skipped."""
    body = b"""<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="1" state="partial">
      <registration aor="sips:1002@example.com" id="a7" state="active">
        <contact id="76" state="active" event="registered">
          <uri>sip:1002@[2001:db8::7]:5061</uri>
          <unknown-param name="received">sip:[2001:db8::9]</unknown-param>
        </contact>
        <contact id="77" state="terminated" event="unregistered">
          <uri>sip:1002@192.0.2.44</uri>
        </contact>
        <contact id="78" state="active" event="refreshed" expires="0">
          <uri>sip:1002@192.0.2.45</uri>
        </contact>
        <contact id="79" state="active" event="registered"><uri>sip:1002@pc.example.com</uri>
        </contact>
      </registration>
      <registration aor="sip:1003@example.com" id="a8" state="terminated">
        <contact id="80" state="active" event="registered" expires="99999999">
          <uri>sip:1003@192.0.2.50</uri></contact>
      </registration>
      <registration aor="sip:example.com" id="a9" state="active">
        <contact id="81" state="active"><uri>sip:192.0.2.51</uri></contact>
      </registration>
    </reginfo>"""
    parsed = parse_reginfo(body)
    assert parsed.registrations == (
        DeviceRegistration("1002", "2001:db8::9", "sip:1002@[2001:db8::7]:5061",
                           RegState.REGISTERED, 3600),
        DeviceRegistration("1002", "192.0.2.44", "sip:1002@192.0.2.44",
                           RegState.UNREGISTERED, 0),
        DeviceRegistration("1002", "192.0.2.45", "sip:1002@192.0.2.45",
                           RegState.UNREGISTERED, 0),
        DeviceRegistration("1003", "192.0.2.50", "sip:1003@192.0.2.50",
                           RegState.UNREGISTERED, 0),
    )
    assert parsed.skipped == (SkippedContact("sips:1002@example.com", "no_device_ip"),
                              SkippedContact("sip:example.com", "invalid_aor"))


def test_long_expiry_is_clamped_to_a_week() -> None:
    """An absurd expiry counts as a week, the longest a network stays 'still there'."""
    body = KAMAILIO_PUBLISH.replace(b'expires="600"', b'expires="99999999"')
    assert parse_reginfo(body).registrations[0].expires_seconds == 7 * 24 * 3600


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE reginfo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">
  <registration aor="sip:&xxe;@pbx" id="1" state="active">
    <contact id="2" state="active"><uri>sip:1001@192.0.2.1</uri></contact>
  </registration>
</reginfo>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<reginfo xmlns="urn:ietf:params:xml:ns:reginfo"><registration aor="sip:&lol9;@pbx"/></reginfo>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE reginfo SYSTEM "http://127.0.0.1:9/reginfo.dtd">
<reginfo xmlns="urn:ietf:params:xml:ns:reginfo"/>"""


@pytest.mark.parametrize(("body", "code"), [
    (XXE, "doctype"),
    (LAUGHS, "doctype"),
    (EXTERNAL_DTD, "doctype"),
    (b"<reginfo xmlns='urn:ietf:params:xml:ns:reginfo'><registration>", "malformed"),
    (b"not xml at all", "malformed"),
    (b"   ", "empty"),
    (b"<presence xmlns='urn:ietf:params:xml:ns:pidf'/>", "not_reginfo"),
    (b"<reginfo/>", "not_reginfo"),
    (XXE.decode().encode("utf-16"), "encoding"),
], ids=["xxe", "billion-laughs", "external-dtd", "truncated", "not-xml", "empty",
        "pidf-not-reginfo", "no-namespace", "utf16-hides-doctype"])
def test_hostile_or_malformed_bodies_are_refused_with_a_code(body: bytes, code: str) -> None:
    """Each hostile or broken body raises ReginfoError with its stable code, nothing parsed."""
    with pytest.raises(ReginfoError) as caught:
        parse_reginfo(body)
    assert caught.value.code == code
    assert "root:" not in caught.value.message  # nothing of /etc/passwd leaks into errors


def test_huge_body_is_refused_before_parsing() -> None:
    """A body over the cap is refused on its size alone."""
    padding = b" " * MAX_REGINFO_BYTES
    body = KAMAILIO_PUBLISH.replace(b"</reginfo>", padding + b"</reginfo>")
    with pytest.raises(ReginfoError) as caught:
        parse_reginfo(body)
    assert caught.value.code == "too_large"


def test_more_contacts_than_the_limit_is_refused_whole() -> None:
    """More contacts than the cap: nothing is half applied."""
    contact = b'<contact id="c" state="active"><uri>sip:1001@192.0.2.1</uri></contact>'
    body = (b'<reginfo xmlns="urn:ietf:params:xml:ns:reginfo"><registration aor="sip:1001@p">'
            + contact * (MAX_CONTACTS + 1) + b"</registration></reginfo>")
    with pytest.raises(ReginfoError) as caught:
        parse_reginfo(body)
    assert caught.value.code == "contact_limit"


@pytest.mark.parametrize(("uri", "ip"), [
    ("sip:1001@192.0.2.7:5060;transport=udp", "192.0.2.7"),
    ("<sip:1001@192.0.2.7>;expires=60", "192.0.2.7"),
    ("sip:[2001:db8::1]:5060", "2001:db8::1"),
    ("sip:1001@[::ffff:192.0.2.9]", "192.0.2.9"),
    ("sip:1001@phone.example.com", None),
    ("", None),
])
def test_uri_ip_takes_ip_literals_only(uri: str, ip: str | None) -> None:
    """The device address is an IP literal of the URI; host names are never resolved."""
    assert uri_ip(uri) == ip
