"""What the notification outbox holds: the notice a 911/933 call leaves, its deliveries (one a
recipient) and their states. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from router.location.model import NewEvent
from router.notify.message import CallNotice


class EventSink(Protocol):
    """Where the outbox and the sender record the public events they cause (`notification.*`):
    the store's `record_event(s)`. A protocol, so the outbox and the sender need not know the
    store, nor each other."""

    def record_event(self, account_id: str, type_: str, data: Mapping[str, Any], *,
                     sip_user: str | None = None, network: str | None = None,
                     now: datetime | None = None) -> Any: ...

    def record_events(self, events: Sequence[NewEvent], *,
                      now: datetime | None = None) -> Any: ...


class DeliveryState(StrEnum):
    """Where one e-mail to one recipient stands (docs/notifications.md, "States")."""

    PENDING = "pending"
    """Recorded, never tried."""
    SENDING = "sending"
    """A sender holds the lease and is talking to the SMTP server."""
    SENT = "sent"
    """The SMTP server accepted the message (250 after DATA, RFC 5321 s4.1.1.4)."""
    RETRYING = "retrying"
    """A temporary failure (4xx, connection refused, timeout); tried again at next_attempt_at."""
    FAILED = "failed"
    """Given up: a permanent refusal of this recipient or message (5xx), or the retry window
    (24 h by default) ran out."""


class CountedState(StrEnum):
    """`e911_notifications_total{state}`: notices recorded or spooled, deliveries settled."""

    RECORDED = "recorded"
    SPOOLED = "spooled"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"


OPEN_STATES = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.RETRYING)
"""States a delivery can still leave: the ones the oldest-pending metric watches."""


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


@dataclass(frozen=True, slots=True)
class EmergencyCallNotice:
    """What the SIP path hands the recorder when it decides an emergency (or test) route.

    Built on the SIP thread from data already in memory; everything else happens elsewhere.
    """

    call_ref: str
    account_id: str
    placed_at: datetime
    """When the INVITE arrived (UTC, timezone-aware)."""
    caller_display_name: str
    """The display name of the P-Asserted-Identity sent to the PSAP, "" when it had none."""
    callback_number: str
    """The callback number sent to the PSAP (E.164), or "" when none was known."""
    address_lines: tuple[str, ...] | None
    """The address sent to the PSAP, line by line; None when the call had no location and
    went to the sorting center."""
    test_call: bool = False
    language: str = "en"
    """The account's language (its callback language): the contacts belong to the account."""
    sip_user: str | None = None
    sip_call_id: str | None = None
    dialed: str | None = None
    e911_disabled: bool = False
    """The account's E911 was disabled at the call: the 911 went to the sorting center
    without an address whether or not one was known (the e-mail says so)."""

    def __post_init__(self) -> None:
        if self.placed_at.tzinfo is None:
            raise ValueError("placed_at must be timezone-aware (UTC)")
        if not self.call_ref or len(self.call_ref) > 64:
            raise ValueError("call_ref must be 1..64 characters")

    def call_notice(self) -> CallNotice:
        """The message's view of this notice (`router.notify.message`)."""
        return CallNotice(
            call_ref=self.call_ref,
            placed_at=self.placed_at,
            caller_display_name=self.caller_display_name,
            callback_number=self.callback_number,
            address_lines=self.address_lines or (),
            test_call=self.test_call,
            language=self.language,
            e911_disabled=self.e911_disabled,
            sip_user=self.sip_user or "",
        )

    def to_json(self) -> str:
        """One spool file's text (docs/notifications.md, "Spool")."""
        return json.dumps({
            "version": 1,
            "call_ref": self.call_ref,
            "account_id": self.account_id,
            "placed_at": self.placed_at.astimezone(UTC).isoformat(),
            "caller_display_name": self.caller_display_name,
            "callback_number": self.callback_number,
            "address_lines": list(self.address_lines) if self.address_lines is not None
            else None,
            "test_call": self.test_call,
            "language": self.language,
            "sip_user": self.sip_user,
            "sip_call_id": self.sip_call_id,
            "dialed": self.dialed,
            "e911_disabled": self.e911_disabled,
        }, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EmergencyCallNotice:
        data: dict[str, Any] = json.loads(text)
        if data.get("version") != 1:
            raise ValueError(f"unknown spool format version {data.get('version')!r}")
        lines = data["address_lines"]
        return cls(
            call_ref=str(data["call_ref"]),
            account_id=str(data["account_id"]),
            placed_at=datetime.fromisoformat(data["placed_at"]).astimezone(UTC),
            caller_display_name=str(data["caller_display_name"]),
            callback_number=str(data["callback_number"]),
            address_lines=tuple(str(x) for x in lines) if lines is not None else None,
            test_call=bool(data["test_call"]),
            language=str(data["language"]),
            sip_user=data.get("sip_user"),
            sip_call_id=data.get("sip_call_id"),
            dialed=data.get("dialed"),
            # Spool files written before issue 18 have no such key: they were not disabled
            # calls as far as anyone can tell now.
            e911_disabled=bool(data.get("e911_disabled", False)),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One e-mail to one emergency contact, and how it went."""

    id: str
    call_ref: str
    position: int
    recipient: str
    message_id: str
    """The Message-ID header every attempt carries (RFC 5322 s3.6.4): one per delivery."""
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    last_attempt_at: datetime | None
    sent_at: datetime | None
    smtp_reply: str | None
    possible_duplicate: bool
    """True when an earlier attempt may have been accepted (the sender died or the connection
    broke after the message's final dot, before the reply was recorded)."""
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as the API (`GET /v1/emergency-calls/{id}`) and the CLI show it."""
        return {
            "id": self.id, "recipient": self.recipient, "state": self.state.value,
            "attempts": self.attempts,
            "next_attempt_at": _iso(self.next_attempt_at)
            if self.state in (DeliveryState.PENDING, DeliveryState.RETRYING) else None,
            "last_error": self.last_error, "last_attempt_at": _iso(self.last_attempt_at),
            "sent_at": _iso(self.sent_at), "message_id": self.message_id,
            "possible_duplicate": self.possible_duplicate, "call_ref": self.call_ref,
        }


@dataclass(frozen=True, slots=True)
class CallNotifications:
    """A call's notification and its deliveries: what `GET /v1/emergency-calls/{id}` shows."""

    notice: EmergencyCallNotice
    recorded_at: datetime
    via_spool: bool
    deliveries: tuple[Delivery, ...]

    @property
    def call_ref(self) -> str:
        return self.notice.call_ref

    def summary(self) -> dict[str, int]:
        """How many deliveries are in each state (every state present, zeros included)."""
        counts = {state.value: 0 for state in DeliveryState}
        for delivery in self.deliveries:
            counts[delivery.state.value] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready for the API. No address and no callback number: those stay in the
        e-mail and the store (the API's call record shows them to those allowed)."""
        n = self.notice
        return {
            "call_ref": n.call_ref, "account_id": n.account_id, "test_call": n.test_call,
            "placed_at": _iso(n.placed_at), "recorded_at": _iso(self.recorded_at),
            "via_spool": self.via_spool, "language": n.language,
            "location_sent": n.address_lines is not None, "summary": self.summary(),
            "deliveries": [d.as_dict() for d in self.deliveries],
        }


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery a sender leased, with what it needs to build the message."""

    delivery: Delivery
    notice: EmergencyCallNotice
    owner: str
