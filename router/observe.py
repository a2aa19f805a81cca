"""Observers of a call, and structlog set up once.

stamina / ctms style: a finished call leaves one frozen `CallOutcome`; the worker logs it
(`e911.call.ended`) and `CallObserver` counts it (`e911_calls_total`, setup time, trunk
attempts) and hands emergency and test calls to the call-record writer. Nothing here may
block or fail a call: everything on the SIP thread is a counter increment or a queue put.

Logs are JSON lines when stderr is not a terminal, readable lines when it is. Log event names
are an API (`e911.call.ended`, `e911.route.decided`, ...): docs/observability.md lists them
with their fields. Never log a full address, a PIDF body or a full callback number: log ids
and `mask_number()`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from dialplan import CallClass
from router.call.admission import MAX_CALLS
from router.call.outcome import CallOutcome, Result
from router.callref import mask_number as mask_number
from router.location.model import CallerContext, Located, Unlocated
from router.metrics import (
    CALL_SETUP_SECONDS,
    CALL_SLOTS,
    CALLS,
    LOCATION_LOOKUP_SECONDS,
    TRUNK_ATTEMPTS,
    CallOutcomeLabel,
    SlotState,
    outcome_label,
    status_class,
)
from router.records.heads import DEFAULT_HEAD_LOG, HeadLog
from router.records.key import RecordKey
from router.records.model import CallRecord, record_from_outcome
from router.records.store import RecordStore, StoreLike
from router.records.writer import DEFAULT_SPOOL_DIR, RecordSpool, RecordWriter

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog for the whole process. Safe to call again (tests, workers)."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (structlog.processors.JSONRenderer() if use_json
                     else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        # sys.stderr looked up when a logger is made, not now: a command run in-process by a
        # test must not leave every later log line writing to that test's closed stream.
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(file=sys.stderr)


def get_logger(**bound: Any) -> Any:
    """A structlog logger with `bound` key-values (bind one per call: call_ref, call_id...)."""
    return structlog.get_logger().bind(**bound)


# -- the outcome observer ----------------------------------------------------------------------


class RecordQueue(Protocol):
    """`router.records.writer.RecordWriter`'s SIP-thread side."""

    def submit(self, record: CallRecord) -> None: ...


class CallObserver:
    """The worker's `on_outcome`: metrics for every call, a record for 911 and 933 calls."""

    def __init__(self, worker: str, records: RecordQueue | None = None,
                 wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.worker = worker
        """The worker's SIP port, as the `worker` label and in each record."""
        self._records = records
        self._wall_clock = wall_clock
        self._log = structlog.get_logger("router.observe").bind(worker=worker)

    def observe(self, outcome: CallOutcome) -> None:
        """Runs on the SIP thread right after the call ended. Never raises."""
        try:
            count_call(outcome)
        except Exception:
            self._log.exception("e911.observe.metrics_failed", call_ref=outcome.call_ref)
        if self._records is None:
            return
        try:
            record = record_from_outcome(outcome, ended_at=self._wall_clock(),
                                         worker=self.worker)
            if record is not None:
                self._records.submit(record)
        except Exception:
            self._log.exception("e911.observe.record_failed", call_ref=outcome.call_ref)


def initialise_series() -> None:
    """Create, at 0, the series an alert watches with `increase()`: a series that first
    appears at 1 shows no increase, so the first failed 911 call would never page."""
    CALLS.labels(call_class=CallClass.EMERGENCY.value, outcome=CallOutcomeLabel.FAILED.value)


def count_call(outcome: CallOutcome) -> None:
    """The metrics of one finished call (pure bookkeeping on the counters)."""
    CALLS.labels(call_class=outcome.call_class, outcome=outcome_label(outcome).value).inc()
    if outcome.result is not Result.CANCELLED:
        # INVITE in -> first final answer upstream; a caller who cancelled got none from us.
        CALL_SETUP_SECONDS.labels(call_class=outcome.call_class).observe(outcome.setup_seconds)
    for attempt in outcome.tried:
        label = status_class(attempt.status, timed_out=attempt.timed_out,
                             not_sent=attempt.not_sent)
        TRUNK_ATTEMPTS.labels(trunk=attempt.trunk, status_class=label.value).inc()


# -- the location lookup timer -----------------------------------------------------------------


class LocationLookup(Protocol):
    """`router.call.decide.LocationView`: what the SIP path asks the in-memory view."""

    def locate(self, account_id: str, sip_user: str, device_ip: str) -> Located | Unlocated: ...

    def caller_context(self, account_id: str, sip_user: str) -> CallerContext: ...


class TimedView:
    """Wraps the in-memory view: each `locate` is observed in `e911_location_lookup_seconds`."""

    def __init__(self, view: LocationLookup,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._view = view
        self._clock = clock

    def locate(self, account_id: str, sip_user: str, device_ip: str) -> Located | Unlocated:
        started = self._clock()
        try:
            return self._view.locate(account_id, sip_user, device_ip)
        finally:
            LOCATION_LOOKUP_SECONDS.observe(self._clock() - started)

    def caller_context(self, account_id: str, sip_user: str) -> CallerContext:
        return self._view.caller_context(account_id, sip_user)


# -- the slot gauge ----------------------------------------------------------------------------


class SlotReporter:
    """Sets `e911_call_slots{worker,state}` once a second from the SIP thread's own count.

    `in_use()` must hand the question to the SIP thread (`Worker.submit`) and return the
    future: only that thread may read the worker's legs. A SIP thread that does not answer
    within `timeout_seconds` leaves the gauge as it was (and is logged).
    """

    def __init__(self, worker: str, in_use: Callable[[], Future[int]], *, slots: int,
                 interval_seconds: float = 1.0, timeout_seconds: float = 2.0) -> None:
        self.worker = worker
        self._in_use = in_use
        self._slots = slots
        self._interval = interval_seconds
        self._timeout = timeout_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = structlog.get_logger("router.observe").bind(worker=worker)

    def report(self, in_use: int) -> None:
        CALL_SLOTS.labels(worker=self.worker, state=SlotState.IN_USE.value).set(in_use)
        CALL_SLOTS.labels(worker=self.worker, state=SlotState.FREE.value).set(
            max(0, self._slots - in_use))

    def poll_once(self) -> bool:
        try:
            self.report(self._in_use().result(timeout=self._timeout))
        except Exception as exc:
            self._log.warning("e911.observe.slots_unknown", error=type(exc).__name__)
            return False
        return True

    def start(self) -> None:
        self.report(0)
        self._thread = threading.Thread(target=self._run, name="slot-reporter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(0.5)  # a daemon; a SIP thread gone quiet must not delay exit
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.poll_once()


# -- what a worker process runs ----------------------------------------------------------------


class WorkerObservers:
    """Everything `e911-router worker` runs beside the SIP thread to be observed: the outcome
    observer (`Worker(on_outcome=...)`), the call-record writer thread, the slot reporter and
    the lookup timer."""

    def __init__(self, port: int, records: RecordWriter | None, *,
                 slots: int = MAX_CALLS) -> None:
        self.port = port
        self._records = records
        self._slots = slots
        self._observer = CallObserver(str(port), records)
        self._reporter: SlotReporter | None = None
        initialise_series()

    @classmethod
    def for_store(cls, store: StoreLike, *, port: int, retention_days: int,
                  key: RecordKey | None, spool_dir: Path = DEFAULT_SPOOL_DIR,
                  head_log: Path = DEFAULT_HEAD_LOG) -> WorkerObservers:
        """`key` None (unusable key): records wait in the spool, calls go on."""
        records = RecordStore(store, key, retention_days=retention_days,
                              head_log=HeadLog(head_log))
        writer = RecordWriter(records, RecordSpool(spool_dir), retention_days=retention_days)
        return cls(port, writer)

    def timed(self, view: LocationLookup) -> TimedView:
        return TimedView(view)

    def observe(self, outcome: CallOutcome) -> None:
        self._observer.observe(outcome)

    def start(self, in_use: Callable[[], Future[int]]) -> None:
        """`in_use`: ask the SIP thread how many calls it holds, e.g.
        `lambda: worker.submit(lambda: len(worker.legs))`."""
        if self._records is not None:
            self._records.start()
        self._reporter = SlotReporter(str(self.port), in_use, slots=self._slots)
        self._reporter.start()

    def stop(self) -> None:
        if self._reporter is not None:
            self._reporter.stop()
        if self._records is not None:
            self._records.stop()
