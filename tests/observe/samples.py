"""Sample call outcomes and call records for the observability tests (`changes` override any
field)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from router.call.outcome import CallFacts, CallOutcome, Result, TrunkAttempt
from router.records.model import CallRecord, TrunkTry

PIDF = '<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:x@y"/>'


CALLBACK = "+14065551001"


PSAP = "sip:127.0.0.1:5071"


SORTING = "sip:127.0.0.1:5072"


def outcome(**changes: Any) -> CallOutcome:
    """A located 911 bridged to the PSAP after one 503; `changes` override any field."""
    base: dict[str, Any] = dict(
        call_ref="7", call_class="emergency", action="bridge", result=Result.BRIDGED,
        status=200, trunk_purpose="psap", attempts=2, location_source="binding",
        setup_seconds=0.25, duration_seconds=30.0,
        facts=CallFacts(dialed="911", account_id="acct_default", sip_user="1001",
                        sip_call_id="abc@pbx", location_id="adr_1", callback_number=CALLBACK),
        tried=(TrunkAttempt("sip:127.0.0.1:5070", "psap", 503), TrunkAttempt(PSAP, "psap", 200)),
        trunk_used=PSAP, pidf_lo=PIDF, path="bridge",
    )
    base.update(changes)
    return CallOutcome(**base)


def record(n: int = 1, **changes: Any) -> CallRecord:
    """A distinct 911 record (`n` makes the id, Call-ID and times differ)."""
    base: dict[str, Any] = dict(
        id=f"rec_{n:024x}", call_class="emergency", outcome="routed_psap", result="bridged",
        final_status=200, action="bridge",
        invite_at=datetime(2026, 3, 1, 12, 0, n % 60, 123456, tzinfo=UTC),
        answered_at=datetime(2026, 3, 1, 12, 0, n % 60, 523456, tzinfo=UTC),
        ended_at=datetime(2026, 3, 1, 12, 5, n % 60, tzinfo=UTC), dialed="911",
        account_id="acct_default", sip_user="1001", sip_call_id=f"call-{n}@pbx", worker="5060",
        call_ref=str(n), trunks_tried=(TrunkTry(PSAP, "psap", 200),), trunk_used=PSAP,
        location_id="adr_1", location_source="binding", callback_number=CALLBACK,
        pidf_sha256="", pidf_lo=None,
    )
    base.update(changes)
    return CallRecord(**base)
