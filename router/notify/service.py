"""Wiring from `Settings`: the outbox, recorder and sender a process runs."""

from __future__ import annotations

from pathlib import Path

from router.notify.outbox import Outbox
from router.notify.recorder import NotificationRecorder
from router.notify.sender import RetryPolicy, Sender, SenderConfig
from router.notify.smtp import SmtpSession, SmtpTarget
from router.notify.spool import DEFAULT_SPOOL_DIR, Spool
from router.settings import Settings
from router.store.store import Store


def outbox_for(settings: Settings, store: Store) -> Outbox:
    """Message-IDs end in the From address's domain (RFC 5322 s3.6.4: ours to make unique)."""
    return Outbox(store, message_id_domain=settings.smtp_from.rsplit("@", 1)[1], events=store)


def recorder_for(settings: Settings, store: Store, *,
                 spool_dir: Path = DEFAULT_SPOOL_DIR) -> NotificationRecorder:
    """The worker's recorder (call `start()`; hand `observe_route` to the worker)."""
    return NotificationRecorder(outbox_for(settings, store), Spool(spool_dir),
                                notify_on_test_calls=settings.notify_on_test_calls)


def sender_for(settings: Settings, store: Store, *, retry: RetryPolicy | None = None,
               poll_seconds: float = 0.25) -> Sender:
    target = SmtpTarget.from_url(settings.smtp_url)
    config = SenderConfig(sender_address=settings.smtp_from, retry=retry or RetryPolicy(),
                          poll_seconds=poll_seconds)
    return Sender(outbox_for(settings, store), lambda: SmtpSession(target), config,
                  events=store)
