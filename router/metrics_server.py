"""The host's metrics endpoint (`E911_METRICS_LISTEN`), run by the supervisor.

    GET /metrics      Prometheus text: the children's metrics summed over every worker of the
                      host (prometheus_client multiprocess files) + the supervisor's own
    GET /status.json  what `e911-router status` shows: children, slots, trunks, calls in the
                      last hour, notifications, the change_seq each worker's location view
                      has applied
    GET /healthz      200 "ok"

How the children's numbers get here: the supervisor creates `var/metrics/<its pid>/` at start
(and removes the directories of supervisors that no longer run: two routers started from one
directory, as the scale-out tests do, must not empty each other's) and starts every child with
`PROMETHEUS_MULTIPROC_DIR` naming it, so each child's prometheus_client writes
its counters, histograms and gauges to per-process files there. A scrape merges the files:
counters and histograms keep a dead worker's counts (a restart never makes a total go down);
when a child exits the supervisor deletes its live-gauge files (`mark_process_dead`), so a dead
worker's slots vanish.

The supervisor's own metrics (`router.metrics.HOST_METRICS`: restarts, build, trunk probes,
the outbox age and store health polled from the store) come from its memory. They must be
true exactly when a child is down, which is when they matter.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from router import __version__
from router.db import schema
from router.db.engine import make_engine
from router.metrics import (
    BUILD_INFO,
    HOST_METRICS,
    MULTIPROC_ENV,
    NOTIFICATION_OLDEST_PENDING_SECONDS,
    REGISTRY,
    STORE_UP,
)
from router.processes import process_gone
from router.settings import Settings
from router.supervisor import ChildKind, ChildSpec, ChildStatus
from router.trunk_probe import TrunkProber, trunks_of

log = structlog.get_logger("router.metrics_server")

DEFAULT_MULTIPROC_DIR = Path("var/metrics")
STORE_POLL_SECONDS = 5.0
HISTORY_STEP_SECONDS = 60.0
HISTORY_SPAN_SECONDS = 3600.0
OPEN_DELIVERY_STATES = ("pending", "sending", "retrying")


def instance_multiproc_dir(base: Path = DEFAULT_MULTIPROC_DIR, pid: int | None = None) -> Path:
    """`base/<pid>` for this supervisor; directories of supervisors that are gone are removed
    (their children's counters died with them). Files directly in `base` (earlier versions)
    are left alone."""
    own = os.getpid() if pid is None else pid
    if base.is_dir():
        for entry in base.iterdir():
            if entry.is_dir() and entry.name.isdigit() and int(entry.name) != own \
                    and process_gone(int(entry.name)):
                shutil.rmtree(entry, ignore_errors=True)
    return base / str(own)


def prepare_multiproc_dir(directory: Path) -> Path:
    """Create the directory, empty of any earlier run's files (their processes are gone)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory.resolve()


VIEW_VERSION = "e911_location_view_version"
"""`router.metrics.LOCATION_VIEW_VERSION`: per process in the files, per worker on the
endpoint."""


def _no_workers() -> Mapping[str, str]:
    return {}


class HostCollector(Collector):
    """The children's files (minus host-owned names) + the host's own metrics.

    `workers()` maps the pid of each running worker (as text) to its name ("worker-1"): the
    location view's version is written per process (`liveall`, labelled `pid`) and served
    per worker; the same gauge's 0 in the API's and the sender's files (they import the
    metrics module too, and hold no view) is dropped."""

    def __init__(self, multiproc_dir: Path | None,
                 workers: Callable[[], Mapping[str, str]] = _no_workers) -> None:
        self._files = (MultiProcessCollector(None, path=str(multiproc_dir))  # type: ignore[no-untyped-call]
                       if multiproc_dir is not None else None)
        self._workers = workers

    def collect(self) -> Iterable[Metric]:
        if self._files is not None:
            for family in self._files.collect():  # type: ignore[no-untyped-call]
                if family.name == VIEW_VERSION:
                    yield by_worker(family, self._workers())
                elif family.name not in HOST_METRICS:
                    yield family
        for family in REGISTRY.collect():
            if family.name in HOST_METRICS:
                yield family


def by_worker(family: Metric, workers: Mapping[str, str]) -> Metric:
    """`family`'s samples of worker processes, their `pid` label replaced by `worker`."""
    merged = GaugeMetricFamily(family.name, family.documentation, labels=["worker"])
    for sample in family.samples:
        name = workers.get(sample.labels.get("pid", ""))
        if name is not None:
            merged.add_metric([name], sample.value)
    return merged


def host_registry(multiproc_dir: Path | None,
                  workers: Callable[[], Mapping[str, str]] = _no_workers) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HostCollector(multiproc_dir, workers))
    return registry


def samples(registry: CollectorRegistry, name: str) -> Iterator[tuple[dict[str, str], float]]:
    """(labels, value) of every sample called `name` (e.g. `e911_calls_total`)."""
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name:
                yield dict(sample.labels), float(sample.value)


# -- the store poller ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxSnapshot:
    store_up: bool
    deliveries: dict[str, int] = field(default_factory=dict)
    """Notification deliveries by state, now."""
    oldest_pending_seconds: float = 0.0
    checked_at: str = ""


def read_outbox(engine: Engine, now: datetime) -> OutboxSnapshot:
    deliveries = schema.notification_deliveries
    with engine.connect() as conn:
        counts: dict[str, int] = dict(conn.execute(
            sa.select(deliveries.c.state, sa.func.count()).group_by(deliveries.c.state)
        ).tuples().all())
        oldest = conn.scalar(sa.select(sa.func.min(deliveries.c.created_at))
                             .where(deliveries.c.state.in_(OPEN_DELIVERY_STATES)))
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return OutboxSnapshot(True, {str(k): int(v) for k, v in counts.items()}, age,
                          now.isoformat())


def read_change_seq(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(schema.change_seq.c.seq)) or 0)


class StorePoller:
    """Reads the outbox every few seconds (never at scrape time: a slow database must not
    make the scrape time out and look like a dead router)."""

    def __init__(self, engine: Engine | None, *,
                 interval_seconds: float = STORE_POLL_SECONDS) -> None:
        self._engine = engine
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.snapshot = OutboxSnapshot(store_up=False)
        self.change_seq: int | None = None
        """The store's `change_seq` at the last poll: what the workers' views should reach."""

    def poll_once(self) -> OutboxSnapshot:
        now = datetime.now(UTC)
        if self._engine is None:
            return self.snapshot
        try:
            snap = read_outbox(self._engine, now)
            self.change_seq = read_change_seq(self._engine)
        except Exception as exc:
            if self.snapshot.store_up:
                log.error("e911.store.unreachable", error=type(exc).__name__)
            snap = OutboxSnapshot(False, self.snapshot.deliveries,
                                  self.snapshot.oldest_pending_seconds, now.isoformat())
        else:
            if not self.snapshot.store_up:
                log.info("e911.store.reachable")
        self.snapshot = snap
        STORE_UP.set(1 if snap.store_up else 0)
        NOTIFICATION_OLDEST_PENDING_SECONDS.set(snap.oldest_pending_seconds)
        return snap

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="store-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def _run(self) -> None:
        while True:
            try:
                self.poll_once()
            except Exception:
                log.exception("e911.metrics.poll_failed")
            if self._stop.wait(self._interval):
                return


# -- calls in the last hour --------------------------------------------------------------------


class CallHistory:
    """Snapshots of `e911_calls_total` once a minute; `last_hour()` is now minus the oldest
    snapshot within the hour (the whole uptime when the router is younger than that)."""

    def __init__(self, read: Callable[[], dict[tuple[str, str], float]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._clock = clock
        # The counters start at zero with the router (a fresh multiprocess directory per
        # supervisor): that is the first snapshot. Taking the first one at the first tick
        # instead made every call before it vanish from `status` (the first `last_hour()`
        # took the counters as they were then as its base).
        self._snapshots: list[tuple[float, dict[tuple[str, str], float]]] = [(clock(), {})]
        self._lock = threading.Lock()

    def tick(self) -> None:
        now = self._clock()
        current = self._read()
        with self._lock:
            if not self._snapshots or now - self._snapshots[-1][0] >= HISTORY_STEP_SECONDS:
                self._snapshots.append((now, current))
            while self._snapshots and now - self._snapshots[0][0] > HISTORY_SPAN_SECONDS:
                self._snapshots.pop(0)

    def last_hour(self) -> tuple[dict[tuple[str, str], int], float]:
        """((call_class, outcome) -> calls, seconds covered)."""
        self.tick()
        now = self._clock()
        current = self._read()
        with self._lock:
            since, base = self._snapshots[0] if self._snapshots else (now, {})
        delta = {key: round(value - base.get(key, 0.0)) for key, value in current.items()}
        return {k: v for k, v in delta.items() if v}, now - since


# -- the endpoint ------------------------------------------------------------------------------


class HostObservability:
    """What the supervisor runs to be observed: the endpoint, the store poller, the trunk
    prober and the call history; and the two hooks the supervisor calls for its children."""

    def __init__(self, *, listen: tuple[str, int], multiproc_dir: Path | None,
                 engine: Engine | None, prober: TrunkProber | None,
                 children: Callable[[], Sequence[ChildStatus]] = tuple) -> None:
        self.multiproc_dir = multiproc_dir
        self.registry = host_registry(multiproc_dir, self._worker_pids)
        self.poller = StorePoller(engine)
        self.prober = prober
        self.children = children
        self.history = CallHistory(self._calls)
        self._listen = listen
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ticker_stop = threading.Event()
        self._started_at = time.monotonic()
        BUILD_INFO.info({"version": __version__})

    # -- the supervisor's hooks ------------------------------------------------------------

    def child_env(self) -> Mapping[str, str]:
        """Variables every child gets: where prometheus_client writes its files."""
        return {MULTIPROC_ENV: str(self.multiproc_dir)} if self.multiproc_dir else {}

    def child_exited(self, pid: int) -> None:
        """Drop a dead child's live gauges (its counters stay in the totals)."""
        if self.multiproc_dir is not None:
            mark_process_dead(pid, str(self.multiproc_dir))  # type: ignore[no-untyped-call]

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._server = ThreadingHTTPServer(self._listen, _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http",
                                        daemon=True)
        self._thread.start()
        self.poller.start()
        if self.prober is not None:
            self.prober.start()
        threading.Thread(target=self._tick, name="call-history", daemon=True).start()
        host, port = self.address
        log.info("e911.metrics.listening", host=host, port=port)

    def stop(self) -> None:
        self._ticker_stop.set()
        if self.prober is not None:
            self.prober.stop()
        self.poller.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _tick(self) -> None:
        while not self._ticker_stop.wait(HISTORY_STEP_SECONDS / 4):
            try:
                self.history.tick()
            except Exception:
                log.exception("e911.metrics.history_failed")

    def _worker_pids(self) -> dict[str, str]:
        return {str(c.pid): c.name for c in self.children()
                if c.kind == ChildKind.WORKER.value and c.running}

    # -- what the endpoint serves ----------------------------------------------------------

    def metrics_text(self) -> bytes:
        return generate_latest(self.registry)

    def _calls(self) -> dict[tuple[str, str], float]:
        return {(labels["call_class"], labels["outcome"]): value
                for labels, value in samples(self.registry, "e911_calls_total")}

    def status(self) -> dict[str, Any]:
        calls, covered = self.history.last_hour()
        slots: dict[str, dict[str, int]] = {}
        for labels, value in samples(self.registry, "e911_call_slots"):
            slots.setdefault(labels["worker"], {})[labels["state"]] = int(value)
        trunks = []
        if self.prober is not None:
            last = self.prober.last()
            for trunk in self.prober.trunks:
                result = last.get(trunk)
                trunks.append({"trunk": trunk.uri, "purpose": trunk.purpose.value,
                               "up": bool(result and result.up),
                               "status": result.status if result else None,
                               "probed": result is not None})
        snap = self.poller.snapshot
        views = sorted((labels["worker"], int(value))
                       for labels, value in samples(self.registry, VIEW_VERSION))
        return {
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - self._started_at, 1),
            "children": [asdict(c) for c in self.children()],
            "slots": slots,
            "trunks": trunks,
            "calls_last_hour": [{"call_class": c, "outcome": o, "calls": n}
                                for (c, o), n in sorted(calls.items())],
            "calls_window_seconds": round(covered, 1),
            "notifications": asdict(snap),
            "location_views": {
                "store_change_seq": self.poller.change_seq,
                "workers": [{"worker": w, "change_seq": v} for w, v in views],
            },
            "worker_restarts": next((v for _, v in samples(
                self.registry, "e911_worker_restarts_total")), 0.0),
        }


def _handler(host: HostObservability) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, host.metrics_text())
                elif path == "/status.json":
                    self._send(200, "application/json",
                               json.dumps(host.status(), sort_keys=True).encode())
                elif path == "/healthz":
                    self._send(200, "text/plain", b"ok\n")
                else:
                    self._send(404, "text/plain", b"not found\n")
            except Exception:
                log.exception("e911.metrics.request_failed", path=path)
                self._send(500, "text/plain", b"error\n")

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # scrapes every 15 s are not news

    return Handler


# -- what `e911-router run` calls ----------------------------------------------------------------


def host_observability(settings: Settings, *, probe_seconds: float,
                       multiproc_dir: Path | None = None) -> HostObservability:
    """Build and start the endpoint on E911_METRICS_LISTEN. Never raises for an observability
    failure (a taken port, an unreachable store): the router runs without it, and says so."""
    prober = None
    if probe_seconds > 0:
        prober = TrunkProber(
            trunks_of(settings.trunk_psap, settings.trunk_sorting_center, settings.trunk_test,
                      settings.trunk_outbound),
            bind_host=settings.sip_listen.host, interval_seconds=probe_seconds)
    wanted = multiproc_dir
    try:
        wanted = wanted or instance_multiproc_dir()
        directory: Path | None = prepare_multiproc_dir(wanted)
    except OSError as exc:
        log.error("e911.metrics.dir_failed", path=str(wanted), error=str(exc))
        directory = None
    host = HostObservability(
        listen=(settings.metrics_listen.host, settings.metrics_listen.port),
        multiproc_dir=directory, engine=make_engine(settings.database_url), prober=prober)
    try:
        host.start()
    except OSError as exc:
        log.error("e911.metrics.listen_failed", listen=str(settings.metrics_listen),
                  error=str(exc))
    return host


def with_child_env(children: Sequence[ChildSpec], host: HostObservability) -> list[ChildSpec]:
    """Every router child (not the front) writes its metrics where the endpoint reads them."""
    extra = tuple(host.child_env().items())
    return [dataclasses.replace(c, env=c.env + extra) if c.kind is not ChildKind.FRONT else c
            for c in children]
