"""Webhook delivery: every public event POSTed to `E911_WEBHOOK_URL`, signed, retried.

A background thread follows the event feed (`feed.events_after`) and POSTs each event, in
order, as the same JSON object the SSE stream carries. Delivery is at least once: the last
delivered `seq` is kept in `webhook_cursors` (keyed by a hash of the URL, so a new URL starts
from now rather than receiving the whole history), and a stop in the middle of a retry leaves
the event to be sent again at the next start. Receivers deduplicate on `X-E911-Event-Id`.

Signature (the Stripe scheme, versioned): `X-E911-Signature: t=<unix seconds>,v2=<hex>` where
hex is HMAC-SHA256 (RFC 2104) keyed with `E911_WEBHOOK_SECRET` over
`"<X-E911-Event-Id>.<t>." + body`. The event id is signed because receivers deduplicate on it
(issue 13): with `v1` (body only, no longer sent) a replayed body under another event id
passed. The receiver recomputes it, compares in constant time and refuses a `t` older than a
few minutes (replay). `verify_signature()` does exactly that; a receiver that knows only `v1`
finds no `v1` and refuses, which fails closed.

Anything but a 2xx answer, a connection error or a timeout is retried with exponential
backoff (1, 2, 4, ... seconds, at most 60 between tries, 8 tries by default); then the event
is logged as given up and the next one goes. The thread never touches the call path: a dead
or slow receiver delays webhooks only.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
import structlog

from router import __version__
from router.db import schema
from router.db.transactions import Transactions
from router.location.model import Event
from router.store.feed import events_after, latest_seq
from router.store.store import Store

log = structlog.get_logger(__name__)

SIGNATURE_HEADER: Final = "X-E911-Signature"
DEFAULT_TOLERANCE_SECONDS: Final = 300


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before each retry: first, first*factor, ... capped at max."""

    first_seconds: float = 1.0
    factor: float = 2.0
    max_seconds: float = 60.0
    attempts: int = 8

    def delays(self) -> Iterator[float]:
        """The waits between the `attempts` tries (attempts - 1 of them)."""
        delay = self.first_seconds
        for _ in range(self.attempts - 1):
            yield min(delay, self.max_seconds)
            delay *= self.factor


SIGNATURE_SCHEME: Final = "v2"
"""The scheme name in the header: v2 signs `event id + "." + t + "." + body`."""


def _mac(secret: str, event_id: str, body: bytes, timestamp: int) -> str:
    # The event id cannot hold a ".": ids are `evt_` + base32 (router/store/ids.py), so
    # "<id>.<t>." splits one way only.
    signed = f"{event_id}.{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature(secret: str, event_id: str, body: bytes, timestamp: int) -> str:
    """The `X-E911-Signature` value for event `event_id` with `body`, sent at `timestamp`."""
    return f"t={timestamp},{SIGNATURE_SCHEME}={_mac(secret, event_id, body, timestamp)}"


def verify_signature(secret: str, header: str, event_id: str, body: bytes, *, now: float,
                     tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """What a receiver does: True when `header` signs `event_id` (the `X-E911-Event-Id` it
    received) and `body` with `secret`, and its timestamp is within `tolerance_seconds` of
    `now`. Only the v2 scheme is accepted."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = _mac(secret, event_id, body, timestamp)
    return any(hmac.compare_digest(expected, given)
               for given in parts.get(SIGNATURE_SCHEME, []))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: the signed POST is never replayed elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebhookSender:
    """See the module docstring. `start()` it once; `stop()` at shutdown."""

    def __init__(self, store: Store, url: str, secret: str, *, backoff: Backoff | None = None,
                 poll_seconds: float = 1.0, timeout_seconds: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("a webhook needs a signing secret")
        self._store = store
        self._url = url
        self._secret = secret
        self._backoff = backoff or Backoff()
        self._poll = poll_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._key = hashlib.sha256(url.encode("utf-8")).hexdigest()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # No proxy from the environment, no redirects: the POST goes where it is configured.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                   _NoRedirects())

    def start(self) -> WebhookSender:
        if self._thread is None:
            # "From now" means from this call, not from whenever the thread gets to run: an
            # event recorded right after start() is delivered. A store that does not answer
            # yet is retried by the thread.
            try:
                first: int | None = self._load_cursor()
            except Exception:
                log.exception("e911.webhook.cursor_failed")
                first = None
            self._thread = threading.Thread(target=self._run, args=(first,),
                                            name="e911-webhook", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # -- the loop --------------------------------------------------------------------------

    def _run(self, cursor: int | None = None) -> None:
        if cursor is not None:
            log.info("e911.webhook.started", after_seq=cursor)
        while not self._stop.is_set():
            try:
                if cursor is None:
                    cursor = self._load_cursor()
                    log.info("e911.webhook.started", after_seq=cursor)
                pending = events_after(self._store, cursor)
                for event in pending:
                    if not self.deliver(event):
                        return  # stopping: this event is sent again at the next start
                    cursor = event.seq
                    self._save_cursor(cursor)
            except Exception:
                log.exception("e911.webhook.loop_failed")
                pending = []
            if not pending:
                self._stop.wait(self._poll)

    def deliver(self, event: Event) -> bool:
        """POST one event until it is accepted or the tries run out; False only when
        stopping interrupted it."""
        body = json.dumps(event.wire(), separators=(",", ":")).encode()
        delays = self._backoff.delays()
        attempt = 0
        while True:
            attempt += 1
            outcome = self._post(body, event, attempt)
            if outcome == "ok":
                log.info("e911.webhook.delivered", event_id=event.id, type=event.type,
                         attempts=attempt)
                return True
            delay = next(delays, None)
            if delay is None:
                log.error("e911.webhook.gave_up", event_id=event.id, type=event.type,
                          attempts=attempt, last=outcome)
                return True
            log.warning("e911.webhook.retry", event_id=event.id, attempt=attempt,
                        outcome=outcome, delay_seconds=delay)
            if self._stop.wait(delay):
                return False

    def _post(self, body: bytes, event: Event, attempt: int) -> str:
        """One try: "ok", or what went wrong ("status 503", "URLError")."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"e911-router/{__version__}",
            "X-E911-Event-Id": event.id,
            "X-E911-Event-Type": event.type,
            "X-E911-Delivery-Attempt": str(attempt),
            SIGNATURE_HEADER: signature(self._secret, event.id, body, int(self._clock())),
        }
        # The URL is an http(s) URL checked by the settings (E911_WEBHOOK_URL).
        request = urllib.request.Request(  # noqa: S310
            self._url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            return type(exc).__name__
        return "ok" if 200 <= status < 300 else f"status {status}"

    # -- the cursor ------------------------------------------------------------------------

    def _load_cursor(self) -> int:
        c = schema.webhook_cursors
        with self._store.engine.connect() as conn:
            seq = conn.scalar(sa.select(c.c.seq).where(c.c.url_sha256 == self._key))
        if seq is not None:
            return int(seq)
        start = latest_seq(self._store)
        self._save_cursor(start)
        return start

    def _save_cursor(self, seq: int) -> None:
        c = schema.webhook_cursors
        values: Mapping[str, Any] = {"seq": seq, "updated_at": datetime.now(UTC)}
        with Transactions(self._store.engine).write() as conn:
            updated = conn.execute(
                c.update().where(c.c.url_sha256 == self._key).values(**values)).rowcount
            if not updated:
                conn.execute(c.insert().values(url_sha256=self._key, **values))
