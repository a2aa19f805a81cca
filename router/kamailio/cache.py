"""Keep the front's route cache honest: empty it whenever the store's locations change.

The front (kamailio.cfg.tmpl, route[ROUTE_CACHE]) remembers, for E911_KAMAILIO_ROUTE_CACHE_SECONDS,
that a worker found a caller located and redirected their ordinary call. When a binding, an
address or a network map changes, that memory may be wrong; this watcher polls the store's
`change_seq` (the same counter the workers' views poll) and empties the front's `e911_located`
table over Kamailio's ctl socket.

It empties the table twice: at once, and again once the workers' views have surely caught up
(`settle_seconds` later), because a worker still deciding on its old view may answer a 302 that
refills the table in between. What remains is bounded by the entry lifetime.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

log = structlog.get_logger("router.kamailio.cache")

LOCATED_TABLE = "e911_located"
"""The htable of located callers (kamailio.cfg.tmpl). The route table needs no flushing: its
target depends only on the dialled URI and the dial plan, never on the store."""


class RouteCacheFlusher:
    """Poll `change_seq`; call `flush` when it moves, and again `settle_seconds` later."""

    def __init__(
        self,
        change_seq: Callable[[], int],
        flush: Callable[[], bool],
        *,
        interval_seconds: float = 0.25,
        settle_seconds: float = 1.5,
    ) -> None:
        self._change_seq = change_seq
        self._flush = flush
        self._interval = interval_seconds
        self._settle = settle_seconds
        self._seen: int | None = None
        self._again_at: float | None = None
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.flushes = 0
        """Flushes that Kamailio accepted (for tests and the status screen)."""

    def poll_once(self, now: float) -> bool:
        """One step; True when a flush was sent. Never raises (the store or Kamailio may be
        down: the next poll tries again, and entries expire by themselves meanwhile)."""
        try:
            seq = self._change_seq()
        except Exception as exc:
            if not self._failing:  # once per outage, not every poll
                log.warning("e911.front.cache_poll_failed", error=type(exc).__name__)
            self._failing = True
            return False
        self._failing = False
        moved = self._seen is not None and seq != self._seen
        self._seen = seq  # the first poll only learns where we are: Kamailio starts empty
        due = self._again_at is not None and now >= self._again_at
        if not (moved or due):
            return False
        self._again_at = now + self._settle if moved else None
        if self._flush():
            self.flushes += 1
            if moved:
                log.info("e911.front.cache_flushed", seq=seq)
            return True
        # Kamailio restarting (it starts empty) or its socket busy: try again next round.
        self._again_at = now + self._interval
        return False

    def start(self) -> RouteCacheFlusher:
        self._thread = threading.Thread(target=self._run, name="route-cache-flusher",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.poll_once(time.monotonic())


def kamcmd_flush(ctl_socket: Path, *, binary: str = "kamcmd",
                 table: str = LOCATED_TABLE, timeout_seconds: float = 5.0) -> Callable[[], bool]:
    """A `flush` for RouteCacheFlusher: `kamcmd -s unix:<ctl> htable.flush <table>`."""

    def flush() -> bool:
        if not ctl_socket.exists():
            return False
        try:
            proc = subprocess.run(
                [binary, "-s", f"unix:{ctl_socket}", "htable.flush", table],
                capture_output=True, text=True, timeout=timeout_seconds, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("e911.front.cache_flush_failed", error=type(exc).__name__)
            return False
        if proc.returncode != 0:
            log.warning("e911.front.cache_flush_failed", error=proc.stderr.strip()[:200])
            return False
        return True

    return flush
