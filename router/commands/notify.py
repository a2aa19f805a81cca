"""`e911-router notify sender|send-pending|pending|show|retry`: the emergency-contact e-mail
outbox (docs/notifications.md).

`sender` runs the sender in the foreground until SIGTERM/SIGINT (the supervisor runs it as a
child); it also imports notices the workers spooled while the store was down. `send-pending`
makes one pass and exits. `pending` lists deliveries not yet sent (and failed ones), `show`
one call's deliveries, `retry` makes retrying and failed deliveries due now.

Exit codes: 0 done; 1 `show` found no such call, or `send-pending` left deliveries unsent;
2 bad settings or the store cannot be opened.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import structlog

from router.commands._common import load_settings_or_none, open_settings_store
from router.notify.model import DeliveryState
from router.notify.recorder import NotificationRecorder
from router.notify.sender import RetryPolicy
from router.notify.service import outbox_for, sender_for
from router.notify.spool import DEFAULT_SPOOL_DIR, Spool
from router.settings import Settings
from router.store.store import Store

EXIT_OK = 0
EXIT_NEGATIVE = 1
EXIT_USAGE = 2

log = structlog.get_logger("router.commands.notify")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("notify", help="emergency-contact e-mail: sender and outbox")
    commands = group.add_subparsers(dest="notify_command", metavar="COMMAND", required=True)

    sender = commands.add_parser("sender", help="run the notification sender in the foreground")
    _common(sender)
    sender.add_argument("--spool-dir", type=Path, default=DEFAULT_SPOOL_DIR,
                        help=f"import notices spooled here (default {DEFAULT_SPOOL_DIR})")
    _tuning(sender)
    sender.set_defaults(handler=_sender_command)

    once = commands.add_parser("send-pending", help="send every due delivery once, then exit")
    _common(once)
    _tuning(once)
    once.set_defaults(handler=_send_pending_command)

    pending = commands.add_parser("pending", help="list deliveries not sent yet, and failed")
    _common(pending)
    pending.add_argument("--json", action="store_true", help="one JSON object")
    pending.add_argument("--limit", type=int, default=100)
    pending.set_defaults(handler=_pending_command)

    show = commands.add_parser("show", help="one call's notification and deliveries")
    _common(show)
    show.add_argument("call_ref")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(handler=_show_command)

    retry = commands.add_parser("retry", help="make retrying and failed deliveries due now")
    _common(retry)
    retry.add_argument("call_ref", nargs="?", help="only this call's deliveries")
    retry.set_defaults(handler=_retry_command)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env-file", help="read this file instead of .env")


def _tuning(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--poll-seconds", type=float, default=0.25,
                        help="look for due deliveries this often (default 0.25: one indexed"
                             " read when idle)")
    parser.add_argument("--retry-first-seconds", type=float, default=5.0,
                        help="first retry delay; doubles up to 300 s (default 5)")


def _open(settings: Settings) -> Store | None:
    try:
        return open_settings_store(settings)
    except Exception as exc:
        print(f"error: cannot open the store: {type(exc).__name__}: {exc}".splitlines()[0],
              file=sys.stderr)
        return None


def _retry_policy(args: argparse.Namespace) -> RetryPolicy:
    return RetryPolicy(first_delay_seconds=args.retry_first_seconds)


def _sender_command(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file, configure_logs=True)
    if settings is None:
        return EXIT_USAGE
    stop = threading.Event()

    def _request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    store = _open_until_stopped(settings, stop)
    if store is None:
        return EXIT_OK
    try:
        sender = sender_for(settings, store, retry=_retry_policy(args),
                            poll_seconds=args.poll_seconds)
        importer = NotificationRecorder(outbox_for(settings, store), Spool(args.spool_dir),
                                        on_recorded=sender.wake)
        importer.start()
        original = signal.getsignal(signal.SIGTERM)

        def _stop_and_wake(signum: int, frame: FrameType | None) -> None:
            stop.set()
            sender.wake()

        signal.signal(signal.SIGTERM, _stop_and_wake)
        signal.signal(signal.SIGINT, _stop_and_wake)
        try:
            sender.run(stop)
        finally:
            importer.stop()
            signal.signal(signal.SIGTERM, original)
        return EXIT_OK
    finally:
        store.close()


def _open_until_stopped(settings: Settings, stop: threading.Event) -> Store | None:
    """The store, retried every few seconds while it does not answer (the supervisor would
    restart us anyway; waiting here keeps the log to one line per try)."""
    delay = 1.0
    while not stop.is_set():
        try:
            return open_settings_store(settings)
        except Exception as exc:
            log.warning("e911.notify.store_unavailable", error=type(exc).__name__,
                        retry_in_s=delay)
            stop.wait(delay)
            delay = min(delay * 2, 30.0)
    return None


def _send_pending_command(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file, configure_logs=True)
    if settings is None:
        return EXIT_USAGE
    store = _open(settings)
    if store is None:
        return EXIT_USAGE
    try:
        sender = sender_for(settings, store, retry=_retry_policy(args))
        handled = sender.run_once()
        stats = outbox_for(settings, store).stats()
        print(json.dumps({"handled": handled, "by_state": stats.by_state}, sort_keys=True))
        unsent = sum(stats.by_state[s.value] for s in (DeliveryState.PENDING,
                                                       DeliveryState.RETRYING))
        return EXIT_OK if unsent == 0 else EXIT_NEGATIVE
    finally:
        store.close()


def _pending_command(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file, configure_logs=True)
    if settings is None:
        return EXIT_USAGE
    store = _open(settings)
    if store is None:
        return EXIT_USAGE
    try:
        outbox = outbox_for(settings, store)
        rows = outbox.list_deliveries(
            [DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.RETRYING,
             DeliveryState.FAILED], limit=args.limit)
        stats = outbox.stats()
    finally:
        store.close()
    now = datetime.now(UTC)
    if args.json:
        print(json.dumps({"by_state": stats.by_state,
                          "oldest_open_seconds": round(stats.oldest_open_seconds(now), 3),
                          "deliveries": [d.as_dict() for d in rows]}, sort_keys=True))
        return EXIT_OK
    print(" ".join(f"{k}={v}" for k, v in stats.by_state.items())
          + f" oldest_open={stats.oldest_open_seconds(now):.0f}s")
    for d in rows:
        print(f"{d.id}  {d.call_ref}  {d.state.value:<8} attempts={d.attempts}"
              f"  next={d.next_attempt_at:%Y-%m-%dT%H:%M:%SZ}  {d.recipient}"
              + (f"  error={d.last_error}" if d.last_error else ""))
    return EXIT_OK


def _show_command(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file, configure_logs=True)
    if settings is None:
        return EXIT_USAGE
    store = _open(settings)
    if store is None:
        return EXIT_USAGE
    try:
        call = outbox_for(settings, store).get_call(args.call_ref)
    finally:
        store.close()
    if call is None:
        print(f"no notification for call {args.call_ref}", file=sys.stderr)
        return EXIT_NEGATIVE
    if args.json:
        print(json.dumps(call.as_dict(), sort_keys=True))
        return EXIT_OK
    n = call.notice
    print(f"{n.call_ref}  account={n.account_id}  test={n.test_call}"
          f"  placed={n.placed_at:%Y-%m-%dT%H:%M:%SZ}  recorded={call.recorded_at:%H:%M:%S}"
          + ("  (via spool)" if call.via_spool else ""))
    for d in call.deliveries:
        print(f"  {d.recipient}: {d.state.value} attempts={d.attempts}"
              + (f" sent={d.sent_at:%H:%M:%S}" if d.sent_at else "")
              + (f" error={d.last_error}" if d.last_error else ""))
    return EXIT_OK


def _retry_command(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file, configure_logs=True)
    if settings is None:
        return EXIT_USAGE
    store = _open(settings)
    if store is None:
        return EXIT_USAGE
    try:
        changed = outbox_for(settings, store).retry_now(args.call_ref, now=datetime.now(UTC))
    finally:
        store.close()
    print(f"{changed} deliveries due now")
    return EXIT_OK
