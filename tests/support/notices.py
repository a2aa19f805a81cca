"""Emergency call notices and senders for the notification tests: a notice built directly, an
account's contacts, a Sender on fast retries, and driving it until a condition holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from router.callref import new_call_ref
from router.notify.model import EmergencyCallNotice
from router.notify.outbox import Outbox
from router.notify.sender import RetryPolicy, Sender, SenderConfig, ServerBackoff
from router.notify.smtp import SmtpSession, SmtpTarget
from router.store.store import Store

SENDER = "e911@router.example"
CONTACTS = ("ops@example.com", "security@example.com")
LINES = ("105 E LARAMIE ST STE 4", "WHITE SULPHUR SPRINGS MT 59645")
FAST_RETRY = RetryPolicy(first_delay_seconds=0.2, max_delay_seconds=0.5)


def make_sender(on: Store, url: str, *, retry: RetryPolicy = FAST_RETRY,
                lease: timedelta = timedelta(minutes=10),
                server_backoff: ServerBackoff | None = None, **session: Any) -> Sender:
    target = SmtpTarget.from_url(url)
    return Sender(Outbox(on, message_id_domain="router.example"),
                  lambda: SmtpSession(target, timeout=5, **session),
                  SenderConfig(sender_address=SENDER, retry=retry, lease=lease,
                               poll_seconds=0.05,
                               server_backoff=server_backoff or ServerBackoff()),
                  events=on)


def notice(account_id: str = "acct_default", **changes: Any) -> EmergencyCallNotice:
    base: dict[str, Any] = {
        "call_ref": new_call_ref(), "account_id": account_id,
        "placed_at": datetime.now(UTC).replace(microsecond=0),
        "caller_display_name": "Ada Lovelace", "callback_number": "+14065551234",
        "address_lines": LINES, "sip_user": "1001", "sip_call_id": "abc@pbx", "dialed": "911",
    }
    base.update(changes)
    return EmergencyCallNotice(**base)


def with_contacts(on: Store, contacts: tuple[str, ...] = CONTACTS,
                  account_id: str = "acct_default") -> Store:
    on.set_contacts(account_id, list(contacts))
    return on


def run_until(sender: Sender, done: Callable[[], bool], timeout: float = 15.0) -> None:
    """Drive `sender.run_once()` until `done()`; each pass is one real claim + SMTP try."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("the sender did not get there in time")
        if sender.run_once() == 0:
            time.sleep(0.05)  # nothing due yet: the next retry time is in the store
