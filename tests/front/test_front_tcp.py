"""SIP over TCP under a connection flood (issue 13, finding 7): one untrusted address holding
thousands of idle TCP connections to the front must not lock out a 911 over TCP from anyone
else, and its connections are closed once they stay silent (E911_KAMAILIO_TCP_IDLE_SECONDS).

Hostile: 2,500 sockets from 127.0.0.66 (outside E911_TRUSTED_PEERS), connected and silent.
Caller: SIPp over TCP (-t t1) from 127.0.0.1. PSAP: a SIPp trunk. Router: Kamailio + 2 workers.
"""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.router_run import requires_kamailio, running_router
from tests.support.seeded_store import OFFICE, USER_CALLBACK
from tests.support.sipp import run_uac, uas_trunks

pytestmark = [pytest.mark.scenario, requires_kamailio]

HOSTILE_SOURCE = "127.0.0.66"
HOSTILE_CONNECTIONS = 2500
IDLE_SECONDS = 3
"""E911_KAMAILIO_TCP_IDLE_SECONDS for this test (short: the test waits for it)."""


@contextlib.contextmanager
def idle_connections(port: int, count: int, deadline_seconds: float = 30.0
                     ) -> Iterator[list[socket.socket]]:
    """`count` TCP connections from HOSTILE_SOURCE to the front, connected and silent, held
    until the block ends. Non-blocking connects, bounded in time."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count + 1024
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    sockets: list[socket.socket] = []
    try:
        deadline = time.monotonic() + deadline_seconds
        for _ in range(count):
            assert time.monotonic() < deadline, f"only {len(sockets)} connections opened"
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOSTILE_SOURCE, 0))
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", port))
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def closed_by_peer(sockets: list[socket.socket], timeout: float) -> int:
    """How many of `sockets` the front closed (EOF or reset) within `timeout` seconds."""
    closed: set[int] = set()
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ, sock)
        deadline = time.monotonic() + timeout
        while len(closed) < len(sockets) and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                peer: socket.socket = key.data
                try:
                    data = peer.recv(4096)
                except (ConnectionError, BlockingIOError, OSError):
                    data = b""
                if not data:
                    closed.add(peer.fileno())
                    selector.unregister(peer)
    return len(closed)


def test_911_over_tcp_completes_while_one_address_holds_2500_idle_connections(
    front_store_url: str, tmp_path: Path
) -> None:
    """2,500 silent connections from one untrusted address (more than Kamailio's default 2,048
    connection slots): a located 911 over TCP from a trusted caller still reaches the PSAP with
    its PIDF-LO and callback number, and the front closes every silent connection within
    E911_KAMAILIO_TCP_IDLE_SECONDS (plus slack)."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (psap,), \
            running_router({"E911_DATABASE_URL": front_store_url, "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUSTED_PEERS": "127.0.0.1/32",
                            "E911_KAMAILIO_TCP_IDLE_SECONDS": str(IDLE_SECONDS)},
                           tmp_path) as router, \
            idle_connections(router.sip_port, HOSTILE_CONNECTIONS) as hostile:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911",
                         timeout=20, extra=("-t", "t1"))
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            request_user="911", callback_number=USER_CALLBACK, display_name="Ada Lovelace",
            has_location=True, civic=OFFICE))
        assert closed_by_peer(hostile, IDLE_SECONDS + 10) == HOSTILE_CONNECTIONS
