"""One call record: what an auditor needs to see about one emergency or test call. Pure.

47 CFR 9.16(b)(3) asks that a 911 call carry a dispatchable location and (b)(2) that the
contacts be told; the record keeps what we sent (trunks, callback number, the PIDF-LO itself)
and when. Notification outcomes are not part of the record: they change after the call, so
they are joined from the outbox when a record is read (`store.RecordStore.notifications`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dialplan import CallClass
from router.call.outcome import CallOutcome, Result
from router.metrics import outcome_label

RECORDED_CLASSES = frozenset({CallClass.EMERGENCY, CallClass.EMERGENCY_TEST})


@dataclass(frozen=True, slots=True)
class TrunkTry:
    """One outgoing INVITE: which trunk, for what, and how it ended."""

    trunk: str
    purpose: str
    status: int
    """The trunk's final status; 0 when none came (the caller left first)."""
    timed_out: bool = False
    not_sent: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"trunk": self.trunk, "purpose": self.purpose, "status": self.status,
                "timed_out": self.timed_out, "not_sent": self.not_sent}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrunkTry:
        return cls(str(data["trunk"]), str(data["purpose"]), int(data["status"]),
                   bool(data.get("timed_out", False)), bool(data.get("not_sent", False)))


@dataclass(frozen=True, slots=True)
class CallRecord:
    """The content of one record, before it joins the chain."""

    id: str
    """`rec_` + time-sortable hex: unique across workers, hosts and restarts."""
    call_class: str
    """emergency | emergency_test"""
    outcome: str
    """The `e911_calls_total` outcome label (routed_psap, failed, ...)."""
    result: str
    """`router.call.outcome.Result` value."""
    final_status: int
    """The final SIP status we sent upstream (200 answered, 302 redirected, ...)."""
    action: str
    invite_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    dialed: str
    account_id: str
    sip_user: str
    sip_call_id: str
    worker: str
    """The worker's SIP port: with `call_ref`, finds the call's log lines."""
    call_ref: str
    trunks_tried: tuple[TrunkTry, ...]
    trunk_used: str
    location_id: str
    location_source: str
    """binding | network | "" (no location: sorting center)."""
    callback_number: str
    pidf_sha256: str
    """SHA-256 (hex) of the PIDF-LO body as sent; "" when the call carried none."""
    pidf_lo: str | None
    """The PIDF-LO body as sent; None when none was sent or after the retention period
    (the hash stays, so the chain still verifies)."""
    path: str = ""
    """Which path carried the call: "bridge" (our B2BUA leg) or "front" (the SIP front built
    the INVITE from our 302 with the PIDF-LO, issue 10); "" when neither applies."""


def new_record_id(now: datetime) -> str:
    millis = int(now.timestamp() * 1000)
    return f"rec_{millis:012x}{secrets.token_hex(6)}"


def pidf_sha256(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest() if body else ""


def record_from_outcome(outcome: CallOutcome, *, ended_at: datetime, worker: str,
                        record_id: str | None = None) -> CallRecord | None:
    """The record of a finished emergency or test call; None for any other call.

    `ended_at` is the wall-clock moment the outcome was reported (on the SIP thread, at once);
    the INVITE and answer times are derived from the outcome's monotonic durations.
    """
    if outcome.call_class not in RECORDED_CLASSES:
        return None
    invite_at = ended_at - timedelta(seconds=outcome.setup_seconds + outcome.duration_seconds)
    answered_at = (invite_at + timedelta(seconds=outcome.setup_seconds)
                   if outcome.result is Result.BRIDGED else None)
    facts = outcome.facts
    return CallRecord(
        id=record_id or new_record_id(ended_at),
        # The record holds plain strings (the enums' values), as it reads back from the store.
        call_class=str(outcome.call_class),
        outcome=outcome_label(outcome).value,
        result=outcome.result.value,
        final_status=outcome.status,
        action=str(outcome.action),
        invite_at=invite_at,
        answered_at=answered_at,
        ended_at=ended_at,
        dialed=facts.dialed,
        account_id=facts.account_id,
        sip_user=facts.sip_user,
        sip_call_id=facts.sip_call_id,
        worker=worker,
        call_ref=outcome.call_ref,
        trunks_tried=tuple(TrunkTry(t.trunk, str(t.purpose), t.status, t.timed_out,
                                    t.not_sent) for t in outcome.tried),
        trunk_used=outcome.trunk_used,
        location_id=facts.location_id,
        location_source=outcome.location_source,
        callback_number=facts.callback_number,
        pidf_sha256=pidf_sha256(outcome.pidf_lo),
        pidf_lo=outcome.pidf_lo or None,
        path=str(outcome.path),
    )


@dataclass(frozen=True, slots=True)
class ChainedRecord:
    """A record as stored: its place in the chain and the two hashes."""

    seq: int
    """1, 2, 3, ... in the order the records were appended (no gaps)."""
    recorded_at: datetime
    record: CallRecord
    prev_hash: str
    hash: str
    pidf_pruned_at: datetime | None = None
    retain_until: datetime | None = None
    """When the PIDF-LO body may be pruned: the INVITE time plus the retention period in force
    when the record joined the chain (hashed from chain version 2 on)."""
    version: int = 2
    """How `hash` was made: 2 = HMAC-SHA256 with the records key; 1 = plain SHA-256 (records
    written before migration 0008). `router.records.chain`."""
