"""The API over real HTTP, for tests: uvicorn serving `create_app()` on 127.0.0.1 (a port the
OS picks) in a thread, httpx clients, and the sample data. Fixtures are in conftest.py."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn

from router.api import ApiOptions
from router.api.server import JsonErrorH11Protocol
from router.location.msag import MsagImport, parse_msag_files
from router.notify.webhook import Backoff
from router.settings import Settings, load_settings

MSAG_DIR = Path(__file__).resolve().parents[2] / "config" / "msag"
ADMIN_TOKEN = "admin-" + "a1b2c3d4e5f60718293a4b5c"
OTHER_ADMIN_TOKEN = "admin-" + "ffeeddccbbaa009988776655"

FAST = ApiOptions(event_poll_seconds=0.05, heartbeat_seconds=1.0, msag_check_seconds=0.0,
                  webhook_poll_seconds=0.05,
                  webhook_backoff=Backoff(first_seconds=0.05, factor=2.0, max_seconds=0.2,
                                          attempts=4))
"""Short intervals so tests wait milliseconds, not seconds, for the stream and the webhook."""

_msag: list[MsagImport] = []


def sample_msag() -> MsagImport:
    """The shipped Montana sample and Canadian fixture, parsed once a session."""
    if not _msag:
        parsed = parse_msag_files(sorted(MSAG_DIR.glob("*.csv")))
        assert parsed.ok, parsed.errors[:3]
        _msag.append(parsed)
    return _msag[0]


RECORDS_KEY = "api-tests-records-key-0123456789abcdef"
"""The call records' key the API is given (GET /v1/call-records/verify needs one; without it
the verdict depends on whether some earlier run left var/records.key behind)."""


def api_settings(**extra: str) -> Settings:
    return load_settings({"E911_ADMIN_TOKENS": f"{ADMIN_TOKEN},{OTHER_ADMIN_TOKEN}",
                          "E911_RECORDS_KEY": RECORDS_KEY, **extra})


@dataclass
class ApiServer:
    """uvicorn serving the app in a thread, on a port the OS picked."""

    app: Any
    sock: socket.socket
    server: uvicorn.Server = field(init=False)
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on",
                                http=JsonErrorH11Protocol,
                                proxy_headers=False, timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> ApiServer:
        self.thread.start()
        ticker = threading.Event()
        # uvicorn offers no start event to wait on; `started` flips once the socket serves.
        while not self.server.started and self.thread.is_alive():
            ticker.wait(0.01)
        assert self.server.started, "uvicorn did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def serve(app: Any) -> ApiServer:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP;
    # with proto 0 every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return ApiServer(app, sock).start()


def client(base_url: str, token: str | None = None, *, source: str | None = None
           ) -> httpx.Client:
    """An httpx client; `source` binds it to another loopback address (another network)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.HTTPTransport(local_address=source) if source else None
    return httpx.Client(base_url=base_url, headers=headers, transport=transport,
                        timeout=httpx.Timeout(10.0))


UserClient = Callable[..., httpx.Client]


def wss(**changes: str) -> dict[str, str]:
    """A valid White Sulphur Springs address as typed, with fields replaced."""
    return {"country": "US", "house_number": "301", "street": "E Laramie St",
            "city": "White Sulphur Springs", "state": "MT", "postal_code": "59645",
            **changes}


ERROR_TYPES = frozenset({
    "invalid_request", "unauthenticated", "forbidden", "not_found", "method_not_allowed",
    "conflict", "emergency_settings_incomplete", "request_too_large", "validation_error",
    "service_unavailable", "internal_error"})
"""docs/api.md's `error.type` values (`router.api.errors.ErrorType`)."""


def assert_error_shape(body: Any) -> None:
    """`body` is exactly `{"error": {"type", "message", "fields": [{"field", "code",
    "message", "suggestions"}]}}` with a documented type (docs/api.md, "Errors")."""
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"type", "message", "fields"}, body
    assert error["type"] in ERROR_TYPES, body
    assert isinstance(error["message"], str) and error["message"], body
    assert isinstance(error["fields"], list), body
    for item in error["fields"]:
        assert isinstance(item, dict), body
        assert set(item) == {"field", "code", "message", "suggestions"}, body
        assert all(isinstance(item[k], str) for k in ("field", "code", "message")), body
        assert isinstance(item["suggestions"], list), body
        assert all(isinstance(s, str) for s in item["suggestions"]), body


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    content_type: str
    body: bytes
    """Empty for a 200 event stream, which is closed after its headers."""

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(base_url: str, method: str, target: str, headers: dict[str, bytes],
                body: bytes | None = None) -> RawResponse:
    """Send `target` (already percent-encoded) with header values byte for byte, as a
    hostile client would: httpx refuses or re-encodes NUL, Latin-1 and other odd bytes.
    Authorization (the administrator), Connection: close and, with a body, Content-Type
    JSON and Content-Length come first unless `headers` replaces them."""
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    sent = {"Authorization": f"Bearer {ADMIN_TOKEN}".encode(), "Connection": b"close"}
    if body is not None:
        sent |= {"Content-Type": b"application/json", "Content-Length": str(len(body)).encode()}
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (sent | headers).items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        content_type = response.getheader("content-type", "")
        if response.status == 200 and content_type.startswith("text/event-stream"):
            return RawResponse(200, content_type, b"")
        return RawResponse(response.status, content_type, response.read())
    finally:
        conn.close()
