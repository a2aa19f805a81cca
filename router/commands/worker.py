"""``e911-router worker [--port N]``: run one SIP worker in the foreground.

The supervisor (`e911-router run`) starts one per port; run it alone to debug a call path.
It reads the E911_* settings, opens the location store named by E911_DATABASE_URL, keeps an
in-memory view of it fresh, and serves INVITEs until SIGTERM (then drains and exits 0).
Log lines are JSON on stderr; `e911.worker.ready` says the port is open.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import structlog

from router.commands._common import load_settings_or_none, open_settings_store
from router.location.view import LocationView
from router.settings import Settings

if TYPE_CHECKING:
    from router.records.key import RecordKey

EXIT_CONFIG = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("worker", help="run one SIP worker in the foreground")
    parser.add_argument("--port", type=int, default=None,
                        help="listen on this port instead of E911_SIP_LISTEN's")
    parser.add_argument("--env-file", help="read this file instead of .env")
    parser.set_defaults(handler=_worker_command)


def _worker_command(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file)
    if settings is None:
        return EXIT_CONFIG
    # Imported here, not at module level: every `e911-router` command imports this module to
    # register it, and only the worker should pay for loading pjsua2.
    from router.call.decide import CallRouter
    from router.metrics import LOCATION_VIEW_VERSION
    from router.notify.service import recorder_for
    from router.observe import WorkerObservers, configure_logging
    from router.sip.serve import serve
    from router.sip.worker import Worker, WorkerConfig

    configure_logging(settings.log_level, settings.log_format.value)
    store = open_settings_store(settings)
    view = LocationView(store, on_version=LOCATION_VIEW_VERSION.set)
    _first_load(view)
    view.start()
    # Kari's Law: 911/933 decisions queue a notice; its thread writes the outbox (or spool).
    recorder = recorder_for(settings, store)
    recorder.start()
    # Metrics, call records and the slot gauge: docs/observability.md.
    config = WorkerConfig.from_settings(settings, port=args.port)
    observers = WorkerObservers.for_store(store, port=config.port,
                                          retention_days=settings.record_retention_days,
                                          key=_records_key(settings))
    try:
        router = CallRouter(settings.dialplan_config(), observers.timed(view),
                            settings.routing_policy(), catch_up=view.catch_up)
        worker = Worker(config, router, on_route_decided=recorder.observe_route,
                        on_outcome=observers.observe)
        observers.start(lambda: worker.submit(lambda: len(worker.legs)))
        return serve(worker)
    finally:
        observers.stop()
        recorder.stop()
        view.stop()
        store.close()


def _records_key(settings: Settings) -> RecordKey | None:
    """The call records' key; None when unusable: records then wait in the spool (logged),
    and the worker still takes calls (a record never costs a call)."""
    from router.records.key import RecordKeyError, records_key

    try:
        return records_key(settings, create=True)
    except RecordKeyError as exc:
        structlog.get_logger("router.commands.worker").error(
            "e911.records.key_unavailable", reason=str(exc))
        return None


def _first_load(view: LocationView) -> None:
    """Load the view before taking calls when the store answers; when it does not, start
    anyway (an unloaded view answers Unlocated: 911 still goes to the sorting center)."""
    log = structlog.get_logger("router.commands.worker")
    try:
        view.refresh()
    except Exception as exc:  # the poller keeps trying; calls must not wait for the store
        log.warning("e911.view.first_load_failed", error=type(exc).__name__)
        return
    log.info("e911.view.loaded", seq=view.seq)
