"""What Kamailio's app_python3 runs (issue 19): `mod_init()` and the object whose methods
kamailio.cfg calls with `python_exec` (route FRONT_DECIDE).

Kamailio starts the interpreter in its main process, which imports this module (no thread,
no store connection: nothing that must not cross a fork), then forks its receivers. Each
process opens its own store and loads its own view on its first INVITE (or in `child_init`
for the UDP receivers): `router.kamailio.front_decide`. The rendered boot script
(`front-decide.py` in the run directory, router/kamailio/render.py) puts the router and its
virtualenv on `sys.path` and imports `mod_init` from here.

`decide` answers through pseudo-variables: `$var(fd)` = relay | reply | worker, with
`$var(fd_target)` for relay and `$var(fd_status)`, `$var(fd_reason)`, `$var(fd_reason_hdr)` for
reply; for worker, `$avp(view_seq)`: the store's change_seq it decided with, which route BRANCH
hands the worker (X-E911-View-Seq) so that its view is at least as fresh. It always returns 1
(a 0 would end Kamailio's script); an exception inside it makes `python_exec` fail, which the
script takes as "worker".
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from typing import Any

import structlog

from router.kamailio.front_decide import DecisionKind, FrontDecider, open_front_decider
from router.settings import load_settings_from_environment

RETRY_SECONDS = 5.0
"""How long a process that could not open the store sends every call to a worker before it
tries again."""


def _ksr() -> Any:
    """Kamailio's KEMI module: only importable inside Kamailio."""
    return importlib.import_module("KSR")


class FrontKemi:
    """One per Kamailio process after the fork (app_python3 copies it into each child)."""

    def __init__(self, ksr: Any, workdir: str = "") -> None:
        self._ksr = ksr
        self._workdir = workdir
        """Where `run` works (Kamailio's own is /): `.env` and a relative SQLite path."""
        self._decider: FrontDecider | None = None
        self._pid = 0
        self._failed_at: float | None = None

    def child_init(self, rank: int) -> int:
        """UDP receivers (rank >= 1) load their view at once; the others, if they ever see an
        INVITE (TCP receivers), on the first."""
        if rank >= 1:
            self._load()
        return 0

    def _load(self) -> FrontDecider | None:
        pid = os.getpid()
        if self._pid == pid and self._decider is not None:
            return self._decider
        if self._pid == pid and self._failed_at is not None \
                and time.monotonic() - self._failed_at < RETRY_SECONDS:
            return None
        self._pid, self._decider, self._failed_at = pid, None, None
        try:
            if self._workdir:
                os.chdir(self._workdir)  # in this process, after the fork: Kamailio uses none
            self._decider = open_front_decider(load_settings_from_environment())
        except Exception as exc:  # every call then goes to a worker, as without us
            self._failed_at = time.monotonic()
            self._ksr.warn(f"e911.front.decide_unavailable error={type(exc).__name__}: {exc}\n")
        return self._decider

    def decide(self, _msg: Any) -> int:
        pv = self._ksr.pv
        pv.sets("$var(fd)", DecisionKind.WORKER.value)
        decider = self._load()
        if decider is None:
            return 1
        ip, port = pv.get("$si"), pv.get("$sp")
        source = f"[{ip}]:{port}" if ":" in str(ip) else f"{ip}:{port}"
        decision = decider.decide(str(pv.get("$mb")), source, str(pv.get("$avp(device)")))
        if decision.kind is DecisionKind.RELAY:
            pv.sets("$var(fd_target)", decision.target)
        elif decision.kind is DecisionKind.REPLY:
            pv.seti("$var(fd_status)", decision.status)
            pv.sets("$var(fd_reason)", decision.reason)
            pv.sets("$var(fd_reason_hdr)", decision.reason_header)
        elif decision.view_seq is not None:
            # The worker catches up to this change before it decides (route BRANCH).
            pv.sets("$avp(view_seq)", str(decision.view_seq))
        pv.sets("$var(fd_why)", decision.why)
        pv.sets("$var(fd)", decision.kind.value)
        return 1


def mod_init(workdir: str = "") -> FrontKemi:
    """app_python3's entry point (through the boot script), in Kamailio's main process before
    it forks."""
    # Library log lines (the view's) as one line each on Kamailio's stderr; no debug lines.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper("iso"),
                    structlog.processors.JSONRenderer()],
    )
    return FrontKemi(_ksr(), workdir)
