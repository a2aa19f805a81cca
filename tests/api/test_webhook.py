"""Webhook delivery to a real local HTTP receiver: signed, retried, resumed."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from router.api import create_app
from router.location.model import DEFAULT_ACCOUNT_ID
from router.notify.webhook import Backoff, WebhookSender, signature, verify_signature
from router.store.store import Store
from tests.support.api_server import FAST, api_settings, serve

SECRET = "whsec-0123456789abcdef"


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    """An HTTP server on 127.0.0.1 answering each POST with the next planned status (200 once
    they run out), or with what `answer` says of its headers and body."""

    def __init__(self, statuses: list[int],
                 answer: Callable[[dict[str, str], bytes], int] | None = None) -> None:
        self.planned = list(statuses)
        self.deliveries: queue.Queue[Delivery] = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                status = (answer(headers, body) if answer is not None else
                          receiver.planned.pop(0) if receiver.planned else 200)
                receiver.deliveries.put(Delivery(self.path, headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/e911"

    def next(self) -> Delivery:
        return self.deliveries.get(timeout=10)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([503, 500])
    yield r
    r.close()


def expected_signature(header: str, event_id: str, body: bytes) -> bool:
    """The receiver's own check, written from the documented v2 scheme (not our helper):
    HMAC-SHA256 over `event id + "." + t + "." + body`."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    if "v2" not in fields:
        return False
    signed = event_id.encode() + b"." + fields["t"].encode() + b"." + body
    mac = hmac.new(SECRET.encode(), signed, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), fields["v2"]) and \
        abs(time.time() - int(fields["t"])) < 60


def test_events_are_posted_signed_and_retried_until_accepted(
    store: Store, receiver: Receiver,
) -> None:
    """503, 500, then 200: three signed tries of the same event, then the next event once."""
    settings = api_settings(E911_WEBHOOK_URL=receiver.url, E911_WEBHOOK_SECRET=SECRET)
    server = serve(create_app(settings, store, options=FAST))
    try:
        first = store.record_event(DEFAULT_ACCOUNT_ID, "network.changed",
                                   {"user": "1001", "network": "198.51.100.20/32",
                                    "ip": "198.51.100.20"}, sip_user="1001",
                                   network="198.51.100.20/32")
        store.record_event(DEFAULT_ACCOUNT_ID, "internal.detail", {"x": 1})
        second = store.record_event(DEFAULT_ACCOUNT_ID, "notification.failed",
                                    {"call_ref": "c9"}, sip_user="1001")
        tries = [receiver.next() for _ in range(4)]
    finally:
        server.stop()
    assert [(t.path, t.status, t.headers["X-E911-Event-Id"],
             t.headers["X-E911-Delivery-Attempt"]) for t in tries] == [
        ("/hooks/e911", 503, first.id, "1"), ("/hooks/e911", 500, first.id, "2"),
        ("/hooks/e911", 200, first.id, "3"), ("/hooks/e911", 200, second.id, "1")]
    for t in tries:
        assert t.headers["Content-Type"] == "application/json"
        event_id = t.headers["X-E911-Event-Id"]
        assert expected_signature(t.headers["X-E911-Signature"], event_id, t.body)
        assert not expected_signature(t.headers["X-E911-Signature"], event_id, t.body + b" ")
    body = json.loads(tries[0].body)
    assert body == {"id": first.id, "seq": first.seq, "type": "network.changed",
                    "created_at": body["created_at"], "account": DEFAULT_ACCOUNT_ID,
                    "user": "1001", "data": {"user": "1001", "network": "198.51.100.20/32",
                                             "ip": "198.51.100.20"}}
    assert tries[3].headers["X-E911-Event-Type"] == "notification.failed"
    assert receiver.deliveries.empty()


def test_a_restarted_sender_resumes_after_the_last_delivered_event(
    store: Store, receiver: Receiver,
) -> None:
    """Events recorded while the sender was stopped are delivered at its next start; the
    ones delivered before are not sent again."""
    receiver.planned.clear()
    backoff = Backoff(first_seconds=0.05, attempts=2)
    sender = WebhookSender(store, receiver.url, SECRET, backoff=backoff, poll_seconds=0.02)
    sender.start()
    early = store.record_event(DEFAULT_ACCOUNT_ID, "emergency_call.started", {"n": 1})
    assert receiver.next().headers["X-E911-Event-Id"] == early.id
    sender.stop()
    while_down = store.record_event(DEFAULT_ACCOUNT_ID, "emergency_call.started", {"n": 2})
    again = WebhookSender(store, receiver.url, SECRET, backoff=backoff, poll_seconds=0.02)
    again.start()
    try:
        assert receiver.next().headers["X-E911-Event-Id"] == while_down.id
    finally:
        again.stop()
    assert receiver.deliveries.empty()


def test_gives_up_after_the_last_try_and_moves_on(store: Store, receiver: Receiver) -> None:
    """With two tries allowed, an event refused twice is dropped and the next one goes."""
    receiver.planned[:] = [500, 500]
    sender = WebhookSender(store, receiver.url, SECRET,
                           backoff=Backoff(first_seconds=0.01, attempts=2), poll_seconds=0.02)
    sender.start()
    try:
        lost = store.record_event(DEFAULT_ACCOUNT_ID, "notification.failed", {"n": 1})
        kept = store.record_event(DEFAULT_ACCOUNT_ID, "notification.sent", {"n": 2})
        got = [(d.headers["X-E911-Event-Id"], d.status) for d in
               (receiver.next(), receiver.next(), receiver.next())]
    finally:
        sender.stop()
    assert got == [(lost.id, 500), (lost.id, 500), (kept.id, 200)]


def test_signature_helper_checks_key_event_id_body_and_age() -> None:
    """verify_signature accepts its own header and refuses another key, event id, body or
    old time, and a v1-only header."""
    body = b'{"id":"evt_1"}'
    header = signature(SECRET, "evt_1", body, 1_700_000_000)
    assert header.startswith("t=1700000000,v2=")
    assert verify_signature(SECRET, header, "evt_1", body, now=1_700_000_100)
    assert not verify_signature("another-secret-value", header, "evt_1", body,
                                now=1_700_000_100)
    assert not verify_signature(SECRET, header, "evt_2", body, now=1_700_000_100)
    assert not verify_signature(SECRET, header, "evt_1", body + b"x", now=1_700_000_100)
    assert not verify_signature(SECRET, header, "evt_1", body, now=1_700_000_000 + 301)
    v1 = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert not verify_signature(SECRET, f"t=1700000000,v1={v1}", "evt_1", body,
                                now=1_700_000_000)
    assert list(Backoff().delays()) == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]


def verifying_receiver(accepted: list[str]) -> Receiver:
    """A receiver that does what docs/api.md tells one to: verify the v2 signature over the
    received `X-E911-Event-Id` (401 when it does not verify), then deduplicate on that id
    (`accepted` keeps each id once)."""

    def answer(headers: dict[str, str], body: bytes) -> int:
        event_id = headers.get("X-E911-Event-Id", "")
        if not expected_signature(headers.get("X-E911-Signature", ""), event_id, body):
            return 401
        if event_id not in accepted:
            accepted.append(event_id)
        return 200

    return Receiver([], answer)


def _post(url: str, headers: dict[str, str], body: bytes) -> int:
    return httpx.post(url, content=body, headers=headers, timeout=5).status_code


def test_receiver_verifying_the_event_id_accepts_deliveries_and_refuses_a_swapped_id(
    store: Store,
) -> None:
    """A real delivery verifies at a receiver checking the signed event id; the same signed
    body replayed under another X-E911-Event-Id (to slip past its deduplication) is refused
    (issue 13, finding 12)."""
    accepted: list[str] = []
    receiver = verifying_receiver(accepted)
    sender = WebhookSender(store, receiver.url, SECRET,
                           backoff=Backoff(first_seconds=0.01, attempts=2), poll_seconds=0.02)
    sender.start()
    try:
        event = store.record_event(DEFAULT_ACCOUNT_ID, "emergency_call.started", {"n": 1})
        delivered = receiver.next()
        assert (delivered.status, delivered.headers["X-E911-Event-Id"]) == (200, event.id)
        replay = {k: v for k, v in delivered.headers.items()
                  if k.lower() in ("content-type", "x-e911-signature", "x-e911-event-type")}
        replay["X-E911-Event-Id"] = "evt_replayed0000000000000000"
        assert _post(receiver.url, replay, delivered.body) == 401
        replay["X-E911-Event-Id"] = event.id
        assert _post(receiver.url, replay, delivered.body) == 200
    finally:
        sender.stop()
        receiver.close()
    assert accepted == [event.id]
