"""Ingress parsing and admission, pure (router.call.inbound / admission never import pjsua2)."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest

from router.call.admission import MediaBurstGuard, SlotPolicy
from router.call.inbound import IngressError, is_trusted, parse_invite
from router.nameaddr import parse_name_addr

PBX = (ipaddress.ip_network("10.1.0.0/16"),)

INVITE = (
    "INVITE sip:9911@router.example;user=phone SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK1\r\n"
    "f: \"Front Desk\" <sip:1001@pbx.example>;tag=a\r\n"
    "t: <sip:9911@router.example>\r\n"
    "i: abc@10.1.2.3\r\n"
    "CSeq: 1 INVITE\r\n"
    "P-Asserted-Identity: \"Acme \\\"HQ\\\"\" <sip:+14065550100@pbx.example;user=phone>\r\n"
    "X-E911-Device-IP: 192.0.2.44\r\n"
    "c: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n"
)


def test_parse_invite_reads_facts_and_compact_headers() -> None:
    """Request-URI, dial string, Call-ID, From user, PAI caller and the SDP body are read."""
    call = parse_invite(INVITE, "10.1.2.3:5060")
    assert (call.request_uri, call.dialed, call.call_id, call.from_user) == (
        "sip:9911@router.example;user=phone", "9911", "abc@10.1.2.3", "1001")
    assert (call.caller.display_name, call.caller.user) == ('Acme "HQ"', "+14065550100")
    assert (call.content_type, call.body) == ("application/sdp", "v=0\n")
    assert call.source == "10.1.2.3:5060"


def test_device_ip_comes_from_header_only_for_pbx_peers() -> None:
    """The device-IP header is believed from a PBX peer, ignored from anyone else."""
    from_pbx = parse_invite(INVITE, "10.1.2.3:5060", pbx_peers=PBX,
                            device_ip_header="X-E911-Device-IP")
    from_other = parse_invite(INVITE, "10.9.2.3:5060", pbx_peers=PBX,
                              device_ip_header="X-E911-Device-IP")
    assert str(from_pbx.device_ip) == "192.0.2.44"
    assert str(from_other.device_ip) == "10.9.2.3"


def test_unreadable_device_ip_header_falls_back_to_source() -> None:
    """A PBX bug in the device-IP header costs the header, never the call."""
    call = parse_invite(INVITE.replace("192.0.2.44", "not-an-ip"), "10.1.2.3:5060",
                        pbx_peers=PBX, device_ip_header="X-E911-Device-IP")
    assert str(call.device_ip) == "10.1.2.3"


def test_parse_invite_refuses_what_is_not_an_invite() -> None:
    """A message without an INVITE request line or Call-ID raises IngressError (400)."""
    with pytest.raises(IngressError):
        parse_invite("OPTIONS sip:x SIP/2.0\r\n\r\n", "10.1.2.3:5060")
    with pytest.raises(IngressError):
        parse_invite(INVITE.replace("i: abc@10.1.2.3\r\n", ""), "10.1.2.3:5060")


def test_parse_name_addr_handles_bare_uri_and_ipv6_source() -> None:
    """A bare addr-spec with parameters, and an IPv6 source address, parse."""
    addr = parse_name_addr("sip:2002@pbx;tag=9")
    assert (addr.display_name, addr.user, addr.host) == ("", "2002", "pbx")
    call = parse_invite(INVITE, "[::1]:5070")
    assert (str(call.source_ip), call.source_port, call.source) == ("::1", 5070, "[::1]:5070")


def test_trusted_peers_check_by_network() -> None:
    """Trust is CIDR membership, per address family."""
    networks = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
    assert is_trusted(ipaddress.ip_address("127.0.0.1"), networks)
    assert not is_trusted(ipaddress.ip_address("127.0.0.5"), networks)
    assert is_trusted(ipaddress.ip_address("::1"), networks)


def test_slot_policy_keeps_one_bridge_and_one_ingress_slot() -> None:
    """With 4 slots: one never held (ingress), two kept for a 911 bridge, one for the rest."""
    slots = SlotPolicy()
    assert [slots.can_hold_normal(held, 1) for held in range(4)] == [True, False, False, False]
    assert [slots.can_hold_normal(held, 2) for held in range(3)] == [False, False, False]
    assert [slots.can_bridge_emergency(held) for held in range(5)] == [
        True, True, False, False, False]
    assert [slots.can_bridge_normal(held) for held in range(3)] == [True, False, False]


def test_media_burst_guard_allows_limit_per_window() -> None:
    """At most `limit` media calls in any `window_seconds`; the window slides."""
    guard = MediaBurstGuard(limit=3, window_seconds=0.6)
    assert [guard.try_acquire(t) for t in (0.0, 0.1, 0.2, 0.3)] == [True, True, True, False]
    assert guard.try_acquire(0.61) is True
    assert guard.try_acquire(0.62) is False


def test_pure_sip_modules_do_not_import_pjsua2() -> None:
    """tests/unit stays free of pjsua2: the pure ingress modules never pull it in (checked in
    a fresh interpreter: in a whole-suite run other directories load pjsua2 first)."""
    code = ("import sys, router.call.admission, router.call.inbound, router.call.front_redirect, "
            "router.call.decide; print('pjsua2' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "False\n"
