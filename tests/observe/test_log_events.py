"""Log event names and fields are an API: pinned here with `structlog.testing.capture_logs`.

The worker's `finished()` is called directly (pjsua2 is imported, never started): it logs
`e911.call.ended` and hands the same frozen outcome to the observer, which counts it and queues
the call record. No log line carries the callback number or the PIDF-LO (the Call-ID travels
only as the per-call logger's `call_id` field: tests/sip/test_call_logs.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from router.call.outcome import CallOutcome
from router.observe import CallObserver, mask_number
from router.records.model import CallRecord
from tests.observe.samples import CALLBACK, PIDF, outcome

pytestmark = pytest.mark.sip

REPO = Path(__file__).resolve().parents[2]

CALL_ENDED_FIELDS = {"event", "log_level", "port", "call_ref", "call_class", "action", "result",
                     "status", "attempts", "trunk", "location", "setup_ms", "path"}


class Records:
    def __init__(self) -> None:
        self.submitted: list[CallRecord] = []

    def submit(self, record: CallRecord) -> None:
        self.submitted.append(record)


def _worker(on_outcome: object) -> object:
    from router.call.decide import CallRouter
    from router.sip.worker import Worker, WorkerConfig

    router = CallRouter(None, None, None)  # type: ignore[arg-type]  # never asked to route
    return Worker(WorkerConfig("127.0.0.1", 5999, prompts_dir=REPO / "config" / "prompts"),
                  router, on_outcome=on_outcome)  # type: ignore[arg-type]


def test_call_ended_event_has_pinned_fields_and_feeds_the_observer() -> None:
    """`e911.call.ended` carries exactly these fields; the observer got the same outcome."""
    records = Records()
    seen: list[CallOutcome] = []
    observer = CallObserver("5999", records)

    def on_outcome(o: CallOutcome) -> None:
        seen.append(o)
        observer.observe(o)

    with capture_logs() as logs:
        worker = _worker(on_outcome)
        worker.finished(7, outcome())  # type: ignore[attr-defined]
    (ended,) = [e for e in logs if e["event"] == "e911.call.ended"]
    assert set(ended) == CALL_ENDED_FIELDS
    assert {k: ended[k] for k in CALL_ENDED_FIELDS - {"event", "log_level"}} == {
        "port": 5999, "call_ref": "7", "call_class": "emergency", "action": "bridge",
        "result": "bridged", "status": 200, "attempts": 2, "trunk": "psap",
        "location": "binding", "setup_ms": 250.0, "path": "bridge"}
    assert seen == [outcome()]
    assert [r.call_ref for r in records.submitted] == ["7"]


def test_no_log_line_of_a_finished_call_holds_caller_data() -> None:
    """Neither the callback number nor the PIDF-LO appears in any field, and the outcome adds
    no Call-ID of its own (only the per-call logger binds it, as `call_id`)."""
    with capture_logs() as logs:
        worker = _worker(CallObserver("5999", Records()).observe)
        worker.finished(7, outcome())  # type: ignore[attr-defined]
    text = repr(logs)
    for secret in (CALLBACK, PIDF, "abc@pbx"):
        assert secret not in text


def test_mask_number_keeps_country_area_and_last_four() -> None:
    """The only form of a callback number a log line may carry."""
    assert mask_number(CALLBACK) == "+1406***1001"
    assert mask_number("12345") == "*****"
