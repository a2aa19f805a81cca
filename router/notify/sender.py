"""The sender: leases due deliveries from the outbox, sends each over SMTP, and records what
happened (sent, retrying with exponential backoff and jitter, failed), with metrics, log events
and store events. When the SMTP server cannot be reached at all it stops the pass, gives the
claimed deliveries back untried and backs off on the server (`ServerBackoff`). Runs on its own
thread (`SenderThread`) or as `e911-router notify sender`; never on the SIP thread.
docs/notifications.md has the states, the outage behaviour and the duplicate analysis.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog

from router.metrics import NOTIFICATION_OLDEST_PENDING_SECONDS, NOTIFICATIONS
from router.notify.message import build_email
from router.notify.model import Claim, CountedState, EventSink
from router.notify.outbox import Outbox, new_owner, owner_process
from router.notify.smtp import LeaseLost, SendError, SmtpSession, SmtpUnavailable
from router.processes import process_gone

log = structlog.get_logger("router.notify.sender")


def equal_jitter(first_seconds: float, max_seconds: float, n: int, rand: float) -> float:
    """Exponential backoff with "equal jitter": the n-th wait (n >= 1) is between half and all
    of min(max, first * 2^(n-1)), placed by `rand` (uniform in [0, 1)). Never zero, so many
    clients backing off together do not come back at one instant."""
    ceiling = min(max_seconds, first_seconds * 2.0 ** max(0, min(n - 1, 30)))
    return ceiling * (0.5 + rand / 2)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """One delivery's backoff after the server refused it for now (4xx, a connection broken
    mid-message): `equal_jitter` from `first_delay_seconds`; after `give_up_after` from the
    call, the delivery fails."""

    first_delay_seconds: float = 5.0
    max_delay_seconds: float = 300.0
    give_up_after: timedelta = timedelta(hours=24)

    def delay(self, attempts: int, rand: float) -> timedelta:
        """The wait after the `attempts`-th failed attempt (`rand` uniform in [0, 1))."""
        return timedelta(seconds=equal_jitter(self.first_delay_seconds, self.max_delay_seconds,
                                              attempts, rand))


@dataclass(frozen=True, slots=True)
class ServerBackoff:
    """How long the sender leaves an SMTP server it cannot reach alone before one new
    connection attempt: `equal_jitter` from 1 s doubling to 30 s. Short, because the first
    connection that works sends the whole backlog; one attempt per step, whatever the backlog,
    because none of the deliveries is tried meanwhile."""

    first_delay_seconds: float = 1.0
    max_delay_seconds: float = 30.0

    def delay(self, failures: int, rand: float) -> timedelta:
        """The wait after the `failures`-th connection attempt of this outage failed."""
        return timedelta(seconds=equal_jitter(self.first_delay_seconds, self.max_delay_seconds,
                                              failures, rand))


class ServerState(StrEnum):
    """The sender's view of the SMTP server (docs/notifications.md, "SMTP server outage")."""

    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class SenderConfig:
    sender_address: str
    """E911_SMTP_FROM: the envelope and header From."""
    lease: timedelta = timedelta(minutes=10)
    """How long a claimed delivery stays ours; far above the longest SMTP exchange
    (a handful of socket operations of `smtp.DEFAULT_TIMEOUT_SECONDS` each)."""
    poll_seconds: float = 0.25
    """An idle poll is one indexed read (`Outbox.claim_due`)."""
    batch: int = 20
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    server_backoff: ServerBackoff = field(default_factory=ServerBackoff)
    stats_interval_seconds: float = 5.0


def _now() -> datetime:
    return datetime.now(UTC)


class Sender:
    """One sender: `run_once()` sends what is due; `run(stop)` loops until `stop` is set."""

    def __init__(
        self,
        outbox: Outbox,
        session_factory: Callable[[], SmtpSession],
        config: SenderConfig,
        *,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = _now,
        rand: Callable[[], float] = random.random,
        owner: str | None = None,
    ) -> None:
        self._outbox = outbox
        self._session_factory = session_factory
        self.config = config
        self._events = events
        self._clock = clock
        self._rand = rand
        self.owner = owner or new_owner()
        self._host = owner_process(self.owner)
        self._wake = threading.Event()
        self._next_stats = 0.0
        self._next_dead_check = 0.0
        self._dead: list[str] = []
        self.server_state = ServerState.REACHABLE
        self._outage_failures = 0
        """Connection attempts that failed since the server was last reached."""
        self._outage_since: datetime | None = None
        self._server_retry_at: datetime | None = None

    def wake(self) -> None:
        """Look at the outbox now (a notice was just recorded in this process)."""
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        log.info("e911.notify.sender_started", owner=self.owner)
        failures = 0
        while not stop.is_set():
            try:
                handled = self.run_once()
                self.update_stats()
                failures = 0
            except Exception as exc:  # the store is down: keep the thread, back off
                failures += 1
                handled = 0
                log.warning("e911.notify.sender_pass_failed", error=type(exc).__name__,
                            failures=failures)
            if handled:
                continue
            self._wake.wait(self.config.poll_seconds * min(failures + 1, 10))
            self._wake.clear()
        log.info("e911.notify.sender_stopped", owner=self.owner)

    def run_once(self) -> int:
        """Claim and send every due delivery (in batches, over one SMTP session); returns how
        many were handled. While the SMTP server is unreachable: nothing until the backoff
        step is over, then one connection attempt before anything is claimed."""
        handled = 0
        if (self.server_state is ServerState.UNREACHABLE and self._server_retry_at is not None
                and self._clock() < self._server_retry_at):
            return 0
        with self._session_factory() as session:
            if self.server_state is ServerState.UNREACHABLE:
                try:
                    session.open()
                except SmtpUnavailable as exc:
                    self._server_unreachable(exc, released=0)
                    return 0
                self._set_server_state(ServerState.REACHABLE)
            while True:
                claims = self._outbox.claim_due(
                    self.owner, now=self._clock(), lease=self.config.lease,
                    limit=self.config.batch, dead_owners=self._dead_owners(),
                )
                if not claims:
                    return handled
                for index, claim in enumerate(claims):
                    try:
                        self._deliver(session, claim)
                    except SmtpUnavailable as exc:
                        # Server-wide: this delivery and the rest of the batch were never
                        # tried. Back to the outbox, one transaction, no attempt counted.
                        released = self._outbox.release(claims[index:])
                        self._server_unreachable(exc, released=released)
                        return handled
                    handled += 1

    # -- the SMTP server's state ----------------------------------------------------------

    def _server_unreachable(self, exc: SmtpUnavailable, *, released: int) -> None:
        """A connection attempt failed: schedule the next one (`ServerBackoff`)."""
        self._outage_failures += 1
        wait = self.config.server_backoff.delay(self._outage_failures, self._rand())
        moment = self._clock()
        self._server_retry_at = moment + wait
        if self.server_state is ServerState.REACHABLE:
            self._outage_since = moment
            # The text only when it is ours, not a server's reply (docs, "Metrics and logs").
            self._set_server_state(ServerState.UNREACHABLE, code=exc.code,
                                   error=exc.text if exc.code is None else None,
                                   released=released,
                                   retry_in_s=round(wait.total_seconds(), 2))
        else:
            log.debug("e911.notify.smtp_still_unreachable", code=exc.code,
                      failures=self._outage_failures,
                      retry_in_s=round(wait.total_seconds(), 2))

    def _set_server_state(self, state: ServerState, **fields: Any) -> None:
        """The one place the server state changes: logs `e911.notify.smtp_unreachable` once
        per outage and `e911.notify.smtp_recovered` when a connection works again. A server
        reply (greeting, EHLO, AUTH) is logged as its code only, our own words (refused, timed
        out, TLS) as `error`: never an address."""
        if state is self.server_state:
            return
        self.server_state = state
        if state is ServerState.UNREACHABLE:
            log.error("e911.notify.smtp_unreachable", **fields)
            return
        since = self._outage_since
        outage_s = round((self._clock() - since).total_seconds(), 1) if since else None
        log.info("e911.notify.smtp_recovered", outage_s=outage_s,
                 failed_attempts=self._outage_failures)
        self._outage_failures = 0
        self._outage_since = None
        self._server_retry_at = None

    def update_stats(self, force: bool = False) -> None:
        """Refresh the oldest-pending gauge (every `stats_interval_seconds`)."""
        moment = self._clock()
        if not force and moment.timestamp() < self._next_stats:
            return
        self._next_stats = moment.timestamp() + self.config.stats_interval_seconds
        stats = self._outbox.stats()
        NOTIFICATION_OLDEST_PENDING_SECONDS.set(stats.oldest_open_seconds(moment))

    def _dead_owners(self) -> list[str]:
        """Leases held by sender processes of this host that no longer exist: taken over at
        once instead of after the lease runs out (a SIGKILLed sender's rows). Looked up at
        start and then every `stats_interval_seconds`."""
        if self._host is None:
            return []
        moment = time.monotonic()
        if moment < self._next_dead_check:
            return self._dead
        self._next_dead_check = moment + self.config.stats_interval_seconds
        dead: list[str] = []
        for other in self._outbox.sending_owners():
            where = owner_process(other)
            if where is None or where[0] != self._host[0] or where[1] == self._host[1]:
                continue
            if process_gone(where[1]):
                dead.append(other)
        self._dead = dead
        return dead

    # -- one delivery -------------------------------------------------------------------

    def _deliver(self, session: SmtpSession, claim: Claim) -> None:
        delivery, notice = claim.delivery, claim.notice
        ids = {"call_ref": delivery.call_ref, "delivery_id": delivery.id,
               "attempt": delivery.attempts}
        if delivery.possible_duplicate:
            log.warning("e911.notify.possible_duplicate", **ids)
        try:
            message = build_email(notice.call_notice(), sender=self.config.sender_address,
                                  recipient=delivery.recipient,
                                  message_id=delivery.message_id)
        except (ValueError, TypeError) as exc:
            # The stored recipient is not an address a message can carry: nothing to retry.
            self._failed(claim, f"cannot build the message: {exc}", ids)
            return
        try:
            reply = session.send(
                message, sender=self.config.sender_address, recipient=delivery.recipient,
                before_data=lambda: self._outbox.mark_data_started(claim, now=self._clock()),
            )
        except LeaseLost:
            log.warning("e911.notify.lease_lost", **ids)
            return
        except SendError as exc:
            self._send_failed(claim, exc, ids)
            return
        # Marked first, before metrics or events: the window in which a crash makes a
        # duplicate is this one commit (docs/notifications.md, "Exactly once?").
        marked = self._outbox.mark_sent(claim, reply=reply, now=self._clock())
        if not marked:
            log.warning("e911.notify.lease_lost_after_send", **ids)
            return
        NOTIFICATIONS.labels(state=CountedState.SENT.value).inc()
        log.info("e911.notify.sent", possible_duplicate=delivery.possible_duplicate, **ids)
        self._event(claim, "notification.sent", {"smtp_reply": reply[:200]})

    def _send_failed(self, claim: Claim, exc: SendError, ids: dict[str, Any]) -> None:
        delivery = claim.delivery
        if exc.permanent:
            self._failed(claim, exc.text, ids, code=exc.code, maybe_accepted=exc.maybe_accepted)
            return
        moment = self._clock()
        wait = self.config.retry.delay(delivery.attempts, self._rand())
        if moment + wait - delivery.created_at > self.config.retry.give_up_after:
            window = self.config.retry.give_up_after.total_seconds()
            span = f"{window / 3600:g} h" if window >= 3600 else f"{window:g} s"
            self._failed(claim, f"gave up after {span}: {exc.text}", ids, code=exc.code,
                         maybe_accepted=exc.maybe_accepted)
            return
        if self._outbox.mark_retry(claim, error=exc.text, next_attempt_at=moment + wait,
                                   maybe_accepted=exc.maybe_accepted):
            NOTIFICATIONS.labels(state=CountedState.RETRYING.value).inc()
            log.warning("e911.notify.retrying", code=exc.code,
                        retry_in_s=round(wait.total_seconds(), 1),
                        maybe_accepted=exc.maybe_accepted, **ids)

    def _failed(self, claim: Claim, error: str, ids: dict[str, Any], *, code: int | None = None,
                maybe_accepted: bool = False) -> None:
        if not self._outbox.mark_failed(claim, error=error, maybe_accepted=maybe_accepted):
            log.warning("e911.notify.lease_lost", **ids)
            return
        NOTIFICATIONS.labels(state=CountedState.FAILED.value).inc()
        log.error("e911.notify.failed", code=code, **ids)
        self._event(claim, "notification.failed", {"error": error})

    def _event(self, claim: Claim, type_: str, extra: dict[str, Any]) -> None:
        """Record `notification.sent` / `notification.failed` for the API's event stream.
        A failure here costs the event, never the delivery's state (already committed)."""
        if self._events is None:
            return
        delivery, notice = claim.delivery, claim.notice
        data = {"call_ref": delivery.call_ref, "delivery_id": delivery.id,
                "recipient": delivery.recipient, "attempts": delivery.attempts,
                "test_call": notice.test_call, **extra}
        try:
            self._events.record_event(notice.account_id, type_, data, sip_user=notice.sip_user)
        except Exception as exc:
            log.warning("e911.notify.event_failed", call_ref=delivery.call_ref,
                        delivery_id=delivery.id, error=type(exc).__name__)


class SenderThread:
    """A `Sender` on a daemon thread (for a process that does other things too)."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.sender.run, args=(self._stop,),
                                            name="notify-sender", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.sender.wake()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
