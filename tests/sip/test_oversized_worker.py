"""A worker alone (no front) and what the pjsua2 wheel cannot take (issue 13, findings 3-4).

Raw UDP on loopback to a real worker: a 911 without SDP answered with the front 302 used to
abort the worker (`pjsip_rx_data_free_cloned: Assertion 'rdata' failed`), and a 911 whose
bridged trunk INVITE exceeds the wheel's 4,000 bytes used to loop on PJSIP_EMSGTOOLONG (21
`e911.trunk.attempt` lines per trunk, no final answer). The pure parts (truncation, the 302's
size) are checked on text.
"""

from __future__ import annotations

import os
import socket
import time
from ipaddress import ip_address, ip_network

import pytest

from router.call.front_redirect import SDP, front_redirect
from router.call.inbound import MAX_READ_BYTES, parse_invite
from router.call.size import SEND_BUDGET_BYTES, response_size
from tests.support.routed_calls import routed_call
from tests.support.worker import WorkerFactory

pytestmark = pytest.mark.sip

_PBX = ["127.0.0.1/32"]


def _invite(port: int, local: str, tag: str, *, body: str = "", extra: str = "") -> str:
    content = "Content-Type: application/sdp\r\n" if body else ""
    return (f"INVITE sip:911@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {local};branch=z9hG4bK{tag}\r\nMax-Forwards: 70\r\n"
            f"From: <sip:1001@127.0.0.1>;tag={tag}\r\nTo: <sip:911@127.0.0.1>\r\n"
            f"Call-ID: {tag}@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:1001@{local}>\r\n"
            f"{extra}{content}Content-Length: {len(body.encode())}\r\n\r\n{body}")


def _final(port: int, *, body: str = "", timeout: float = 10.0) -> str:
    """One INVITE to the worker; its final response (ACKed), or AssertionError."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        local = f"127.0.0.1:{sock.getsockname()[1]}"
        tag = os.urandom(6).hex()
        sock.sendto(_invite(port, local, tag, body=body).encode(), ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65535).decode(errors="replace")
            except TimeoutError:
                continue
            if int(data.split(" ", 2)[1]) >= 200:
                ack = (f"ACK sip:911@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {local};"
                       f"branch=z9hG4bK{tag}\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;"
                       f"tag={tag}\r\nTo: <sip:911@127.0.0.1>\r\nCall-ID: {tag}@127.0.0.1\r\n"
                       "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")
                sock.sendto(ack.encode(), ("127.0.0.1", port))
                return data
    raise AssertionError("no final response from the worker")


def _offer(size: int) -> str:
    lines = ["v=0", "o=big 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
             "m=audio 40000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000"]
    k = 0
    while sum(len(line) + 2 for line in lines) < size:
        k += 1
        lines.append(f"a=candidate:{k} 1 UDP 2122252543 127.0.0.1 {40000 + k} typ host")
    return "\r\n".join(lines) + "\r\n"


def test_late_offer_911_on_the_front_path_does_not_abort_the_worker(
    worker_factory: WorkerFactory
) -> None:
    """E911_EMERGENCY_PATH=front, a 911 without SDP: the front 302 (X-E911-Route, the PIDF-LO),
    and the worker is still there to answer the next one (it used to abort at the first)."""
    worker = worker_factory(E911_EMERGENCY_PATH="front")
    for _ in range(3):
        reply = _final(worker.port)
        assert reply.startswith("SIP/2.0 302 "), reply[:200]
        assert "X-E911-Route: psap" in reply and "X-E911-PIDF: " in reply
        assert SDP not in reply
    assert worker.proc.poll() is None


def test_a_911_too_large_to_bridge_goes_to_the_front_without_an_attempt_loop(
    worker_factory: WorkerFactory
) -> None:
    """E911_EMERGENCY_PATH=bridge and a 2 KB SDP offer (SRTP/WebRTC size): the trunk INVITE
    would exceed the wheel's limit, so the worker answers the front 302 with the PIDF-LO at
    once, under the send limit; no trunk attempt is made (it used to loop 21 times a trunk)."""
    worker = worker_factory(E911_EMERGENCY_PATH="bridge")
    reply = _final(worker.port, body=_offer(2_000))
    assert reply.startswith("SIP/2.0 302 "), reply[:200]
    assert "X-E911-Route: psap" in reply and "X-E911-PIDF: " in reply
    assert len(reply.encode()) <= SEND_BUDGET_BYTES
    worker.wait_event("e911.emergency.not_bridgeable", where=lambda e: e["why"] == "too_large")
    assert worker.count("e911.trunk.attempt") == 0
    assert worker.proc.poll() is None


def test_a_cut_message_from_the_front_has_no_device_and_a_cut_body_is_not_whole() -> None:
    """The wheel keeps the first 4,000 bytes: a PBX peer's INVITE cut before the device header
    has no known device (never the peer's address); with the header at the top the device is
    kept; either way the cut body is not whole (it must not be bridged)."""
    local = "127.0.0.1:5999"
    pad = "X-Pad: " + "p" * 5000 + "\r\n"
    device = "X-E911-Device-IP: 10.1.2.3\r\n"
    late = _invite(5060, local, "t1", body=_offer(300), extra=pad + device)
    early = _invite(5060, local, "t2", body=_offer(300), extra=device + pad)
    peers = [ip_network(n) for n in _PBX]
    cut = parse_invite(late[:MAX_READ_BYTES], "127.0.0.1:5070", pbx_peers=peers,
                       device_ip_header="X-E911-Device-IP", device_ip_required=True)
    assert (cut.device_ip, cut.truncated, cut.body_whole) == (None, True, False)
    kept = parse_invite(early[:MAX_READ_BYTES], "127.0.0.1:5070", pbx_peers=peers,
                        device_ip_header="X-E911-Device-IP")
    assert (kept.device_ip, kept.truncated) == (ip_address("10.1.2.3"), True)
    missing = parse_invite(_invite(5060, local, "t3"), "127.0.0.1:5070", pbx_peers=peers,
                           device_ip_header="X-E911-Device-IP", device_ip_required=True)
    assert missing.device_ip is None and missing.body_whole


def test_the_front_302_leaves_out_the_sdp_rather_than_exceed_the_send_limit() -> None:
    """A 2.5 KB offer base64-encoded next to the PIDF-LO would make a 302 PJSUA cannot build:
    X-E911-SDP is left out (the front then sends the caller's own body), the PIDF-LO stays;
    a small offer still travels."""
    big = routed_call("911", located=True, sdp=_offer(2_500))
    redirect = front_redirect(big, host="127.0.0.1")
    names = [name for name, _ in redirect.headers]
    assert redirect.left_out == (SDP,) and SDP not in names
    assert "X-E911-PIDF" in names and redirect.pidf_lo
    assert response_size(big.inbound.echoed_bytes, redirect.headers) <= SEND_BUDGET_BYTES
    small = front_redirect(routed_call("911", located=True, sdp=_offer(200)), host="127.0.0.1")
    assert small.left_out == () and SDP in [name for name, _ in small.headers]
