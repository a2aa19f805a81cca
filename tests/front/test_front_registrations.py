"""Registrations through the real front (issue 17): a PBX peer's REGISTER copy or RFC 3680
reg-event PUBLISH/NOTIFY reaches the router, and `network.changed` shows on `/v1/events` at
registration, before any call; from anyone else, 403 and nothing believed."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.event_stream import Stream, stream
from tests.support.pbx_chain import kamailio_running
from tests.support.ports import free_port
from tests.support.processes import wait_until
from tests.support.router_run import RouterRun, running_router
from tests.support.seeded_store import LOCATED_USER, PBX_PHONE_IP, PBX_PHONE_USER

pytestmark = pytest.mark.scenario

TOKEN = "front-registrations-" + "0123456789abcdef"
PBX = "127.0.0.2"
STRANGER = "127.0.0.5"


def sip_request(port: int, method: str, user: str, *, source: str, headers: str = "",
                body: str = "", timeout: float = 10.0) -> str:
    """One out-of-dialog request over UDP from `source` to the front; its final reply."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        local = f"{source}:{sock.getsockname()[1]}"
        tag = os.urandom(6).hex()
        target = "sip:pbx.example.net" if method == "REGISTER" else f"sip:{user}@pbx.example.net"
        message = (f"{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{tag}"
                   f"\r\nFrom: <sip:{user}@pbx.example.net>;tag={tag}\r\n"
                   f"To: <sip:{user}@pbx.example.net>\r\nCall-ID: {tag}@{source}\r\n"
                   f"CSeq: 1 {method}\r\nMax-Forwards: 70\r\n{headers}"
                   f"Content-Length: {len(body.encode())}\r\n\r\n{body}")
        sock.sendto(message.encode(), ("127.0.0.1", port))
        while True:
            reply = sock.recv(65535).decode(errors="replace")
            if int(reply.split(" ", 2)[1]) >= 200:
                return reply


def status(reply: str) -> int:
    return int(reply.split(" ", 2)[1])


def register_copy(router: RouterRun, user: str, device_ip: str, *, source: str = PBX,
                  expires: int = 600) -> str:
    """The PBX's copy of a device's REGISTER, naming the device as it does for INVITEs."""
    return sip_request(router.sip_port, "REGISTER", user, source=source, headers=(
        f"Contact: <sip:{user}@10.0.0.5:5060>;expires={expires}\r\n"
        f"X-E911-Device-IP: {device_ip}\r\n"))


def reginfo_publish(router: RouterRun, user: str, device_ip: str, *, method: str = "PUBLISH",
                    source: str = PBX) -> str:
    """A reg-event body as Kamailio's pua_reginfo PUBLISHes it (RFC 3680)."""
    body = ('<?xml version="1.0"?>\n<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" '
            f'version="0" state="full"><registration aor="sip:{user}@pbx.example.net" '
            'id="0x1" state="active"><contact id="0x2" state="active" event="registered" '
            f'expires="600" received="sip:{device_ip}:5060"><uri>sip:{user}@10.0.0.6:5060'
            '</uri></contact></registration></reginfo>')
    return sip_request(router.sip_port, method, user, source=source, body=body, headers=(
        "Event: reg\r\nExpires: 3600\r\nContent-Type: application/reginfo+xml\r\n"))


@contextmanager
def router_and_events(store_url: str, tmp_path: Path) -> Iterator[tuple[RouterRun, Stream]]:
    env = {"E911_DATABASE_URL": store_url, "E911_ADMIN_TOKENS": TOKEN,
           "E911_PBX_PEERS": f"{PBX}/32"}
    with running_router(env, tmp_path) as router, \
            httpx.Client(base_url=router.api_url, timeout=20.0,
                         headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
        wait_until(lambda: _answers(admin), 30, f"the API at {router.api_url}")
        with stream(admin) as events:
            yield router, events


def _answers(api: httpx.Client) -> bool:
    try:
        return api.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def next_event(events: Stream, timeout: float = 30.0) -> dict[str, Any]:
    """The next event, or fail after `timeout` (the stream's keep-alives every 15 s bound
    each read)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = events.next_frame()
        if "event" in frame:
            data: dict[str, Any] = json.loads(frame["data"])
            return data
    raise AssertionError(f"no event on /v1/events within {timeout} s")


def network_changed(event: dict[str, Any]) -> tuple[str, str, str]:
    assert event["type"] == "network.changed", event
    return event["user"], event["data"]["network"], event["data"]["ip"]


def test_register_copy_from_the_pbx_raises_network_changed_once(
    front_store_url: str, tmp_path: Path
) -> None:
    """Phone 3003 (bound at 10.1.2.3) registers from 198.51.100.30: 200 and one
    network.changed, no call placed; the re-REGISTER is silent; a stranger's copy is 403.
    A last registration of 1001 on a new network proves, arriving next, that nothing else
    was written (one timer process delivers the front's reports in order)."""
    with router_and_events(front_store_url, tmp_path) as (router, events):
        assert status(register_copy(router, PBX_PHONE_USER, "198.51.100.30")) == 200
        assert network_changed(next_event(events)) == (
            PBX_PHONE_USER, "198.51.100.30/32", "198.51.100.30")
        assert status(register_copy(router, PBX_PHONE_USER, "198.51.100.30")) == 200
        assert status(register_copy(router, PBX_PHONE_USER, "198.51.100.31",
                                    source=STRANGER)) == 403
        assert status(register_copy(router, LOCATED_USER, "198.51.100.40")) == 200
        assert network_changed(next_event(events)) == (
            LOCATED_USER, "198.51.100.40/32", "198.51.100.40")
        assert router.count("e911.call.ended") == 0


def test_reginfo_publish_and_notify_from_the_pbx_reach_the_router(
    front_store_url: str, tmp_path: Path
) -> None:
    """A pua_reginfo-style PUBLISH from the known network re-binds silently (200 + SIP-ETag);
    a NOTIFY from a new network raises network.changed; a stranger's PUBLISH is 403."""
    with router_and_events(front_store_url, tmp_path) as (router, events):
        known = reginfo_publish(router, PBX_PHONE_USER, PBX_PHONE_IP)
        assert status(known) == 200 and "\r\nSIP-ETag: " in known
        assert status(reginfo_publish(router, PBX_PHONE_USER, "198.51.100.32",
                                      source=STRANGER)) == 403
        assert status(reginfo_publish(router, PBX_PHONE_USER, "198.51.100.33",
                                      method="NOTIFY")) == 200
        assert network_changed(next_event(events)) == (
            PBX_PHONE_USER, "198.51.100.33/32", "198.51.100.33")


def test_register_copy_without_the_device_header_is_refused(
    front_store_url: str, tmp_path: Path
) -> None:
    """The PBX's own address is never taken for the device's: no header, 400, nothing."""
    with router_and_events(front_store_url, tmp_path) as (router, events):
        reply = sip_request(router.sip_port, "REGISTER", PBX_PHONE_USER, source=PBX,
                            headers="Contact: <sip:3003@10.0.0.5:5060>\r\n")
        assert reply.startswith("SIP/2.0 400 Missing X-E911-Device-IP\r\n")
        assert status(register_copy(router, LOCATED_USER, "198.51.100.41")) == 200
        assert network_changed(next_event(events))[0] == LOCATED_USER


PBX_CFG = """#!KAMAILIO
# A Kamailio registrar as a PBX: usrloc in memory, and pua_reginfo PUBLISHing every change of
# a registration (RFC 3680 reg events) to the router's front (docs/registrations.md).
debug=2
log_stderror=yes
children=1
auto_aliases=no
dns=no
rev_dns=no
listen=udp:{pbx}:{pbx_port}
loadmodule "kex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "db_text.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "nathelper.so"
loadmodule "pua.so"
loadmodule "pua_reginfo.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "received_avp", "$avp(RECEIVED)")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("pua", "db_url", "text://{db}")
modparam("pua", "db_mode", 0)
modparam("pua_reginfo", "default_domain", "pbx.example.net")
modparam("pua_reginfo", "server_address", "sip:reginfo@pbx.example.net")
modparam("pua_reginfo", "outbound_proxy", "sip:127.0.0.1:{front_port}")
modparam("pua_reginfo", "publish_reginfo", 1)
request_route {{
	if (is_method("OPTIONS")) {{
		sl_send_reply("200", "OK");
		exit;
	}}
	if (is_method("REGISTER")) {{
		fix_nated_register();
		if (!save("location")) {{
			sl_reply_error();
		}}
		exit;
	}}
	sl_send_reply("405", "Method Not Allowed");
}}
"""
DBTEXT = Path("/usr/share/kamailio/dbtext/kamailio")


@contextmanager
def kamailio_pbx(tmp_path: Path, front_port: int) -> Iterator[int]:
    """A real Kamailio registrar with pua_reginfo on 127.0.0.2 (the PBX peer); its port."""
    db = tmp_path / "pbx-db"
    db.mkdir()
    for table in ("version", "pua"):
        (db / table).write_text((DBTEXT / table).read_text())
    port = free_port(PBX)
    cfg = tmp_path / "pbx.cfg"
    cfg.write_text(PBX_CFG.format(pbx=PBX, pbx_port=port, db=db, front_port=front_port))
    (tmp_path / "pbx-run").mkdir()
    with kamailio_running(cfg, tmp_path / "pbx-run", tmp_path / "pbx.log", port):
        yield port


def device_register(pbx_port: int, user: str, device: str) -> int:
    """A softphone at `device` registering with the PBX; the PBX's final answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((device, 0))
        sock.settimeout(10)
        local = f"{device}:{sock.getsockname()[1]}"
        tag = os.urandom(6).hex()
        sock.sendto((f"REGISTER sip:pbx.example.net SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP {local};branch=z9hG4bK{tag}\r\n"
                     f"From: <sip:{user}@pbx.example.net>;tag={tag}\r\n"
                     f"To: <sip:{user}@pbx.example.net>\r\nCall-ID: {tag}@{device}\r\n"
                     f"CSeq: 1 REGISTER\r\nContact: <sip:{user}@192.168.1.50:5060>\r\n"
                     "Expires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(),
                    (PBX, pbx_port))
        return status(sock.recv(65535).decode(errors="replace"))


def test_kamailio_pbx_with_pua_reginfo_tells_the_router_at_registration(
    front_store_url: str, tmp_path: Path
) -> None:
    """A real Kamailio registrar PUBLISHes reg events: phone 3003 registering from 127.0.0.11
    (its NAT-seen source, pua_reginfo's `received`) raises network.changed, no call placed; its
    re-REGISTER is silent (1001's registration arriving next proves nothing came between)."""
    with router_and_events(front_store_url, tmp_path) as (router, events), \
            kamailio_pbx(tmp_path, router.sip_port) as pbx_port:
        assert device_register(pbx_port, PBX_PHONE_USER, "127.0.0.11") == 200
        assert network_changed(next_event(events)) == (
            PBX_PHONE_USER, "127.0.0.11/32", "127.0.0.11")
        assert device_register(pbx_port, PBX_PHONE_USER, "127.0.0.11") == 200
        assert device_register(pbx_port, LOCATED_USER, "127.0.0.12") == 200
        assert network_changed(next_event(events)) == (
            LOCATED_USER, "127.0.0.12/32", "127.0.0.12")
