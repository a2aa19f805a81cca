"""How a call is named where people look for it, without caller data. Pure but for the clock
and the random source `new_call_ref` reads.

One reference per call (`call_` + time-sortable hex), made by the worker when the INVITE is
first handled: it is the `call_ref` of every log line about the call, of its `CallOutcome`,
its call record and its Kari's Law notification (the e-mail's `X-E911-Call-Ref`), so one grep
finds the call in all of them. A number a log line needs is masked (`mask_number`).
"""

from __future__ import annotations

import secrets
import time


def new_call_ref(now: float | None = None) -> str:
    """A call reference unique across workers and restarts, sortable by time:
    `call_` + 12 hex digits of milliseconds since the epoch + 12 random hex digits."""
    millis = int((time.time() if now is None else now) * 1000)
    return f"call_{millis:012x}{secrets.token_hex(6)}"


def mask_number(number: str) -> str:
    """'+14065551234' -> '+1406***1234': enough to tell calls apart, not enough to dial."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:5] + "***" + number[-4:]
