"""The per-call logger and what it may say about a caller, pinned with
`structlog.testing.capture_logs` (the worker is built, pjsua2 is imported, never started).

The worker-process tests (tests/sip/test_call_logs.py) pin the same fields on real calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from dialplan import DialPlanConfig, classify
from router.call.decide import dialled_form
from router.call.outcome import CallOutcome
from router.callref import mask_number, new_call_ref
from tests.observe.samples import outcome

pytestmark = pytest.mark.sip

REPO = Path(__file__).resolve().parents[2]

BOUND = {"port", "call_ref", "call_id", "call_class", "account"}
"""What every log line about a call carries (docs/observability.md, "Logs")."""


def _worker() -> object:
    from router.call.decide import CallRouter
    from router.sip.worker import Worker, WorkerConfig

    router = CallRouter(None, None, None)  # type: ignore[arg-type]  # never asked to route
    return Worker(WorkerConfig("127.0.0.1", 5999, prompts_dir=REPO / "config" / "prompts"),
                  router)  # type: ignore[arg-type]


def test_call_services_log_every_line_with_the_calls_bound_fields() -> None:
    """A controller's logger (`Worker.call_log`, given to it when it is made) carries
    call_ref, call_id, class, account, port; before classification the class is "invalid"
    and the account null."""
    worker = _worker()
    with capture_logs() as logs:
        log = worker.call_log(  # type: ignore[attr-defined]
            "call_0123456789ab0123456789ab", "abc@pbx", None)
        log.info("e911.trunk.attempt", attempt=1, purpose="psap")
    assert logs == [{
        "event": "e911.trunk.attempt", "log_level": "info", "port": 5999,
        "call_ref": "call_0123456789ab0123456789ab", "call_id": "abc@pbx",
        "call_class": "invalid", "account": None, "attempt": 1, "purpose": "psap"}]


def test_call_ended_of_a_bound_call_carries_the_bound_fields() -> None:
    """`finished` logs `e911.call.ended` on the call's own logger when it knows the call."""
    worker = _worker()
    log = worker.call_log("call_0123456789ab0123456789ab", "abc@pbx",  # type: ignore[attr-defined]
                          None)
    worker._call_logs[3] = log  # type: ignore[attr-defined]  # what _incoming registers
    with capture_logs() as logs:
        worker.finished(3, outcome(  # type: ignore[attr-defined]
            call_ref="call_0123456789ab0123456789ab"))
    (ended,) = logs
    assert set(ended) == {"event", "log_level", *BOUND, "action", "result", "status",
                          "attempts", "trunk", "location", "setup_ms", "path"}
    assert (ended["event"], ended["call_ref"], ended["call_id"], ended["call_class"],
            ended["account"]) == ("e911.call.ended", "call_0123456789ab0123456789ab",
                                  "abc@pbx", "emergency", None)


@pytest.mark.parametrize(("dialled", "form"), [
    ("sip:911@pbx", "short_code"),
    ("sip:933@pbx", "short_code"),
    ("sip:9911@pbx", "access_prefix"),
    ("tel:+1911", "e164"),
    ("urn:service:sos.fire", "urn"),
    ("sip:4065550123@pbx", "external"),
    ("sip:94065550123@pbx", "access_prefix"),
    ("sip:+14065550123@pbx", "e164"),
    ("sip:1001@pbx", "extension"),
    ("sip:411@pbx", "service_code"),
    ("sip:alice@pbx", "invalid"),
])
def test_dialled_form_names_the_kind_of_string_never_the_digits(dialled: str, form: str) -> None:
    """`e911.call.received` says what kind of string was dialled, not the number."""
    assert dialled_form(classify(dialled, DialPlanConfig())) == form


def test_dialled_form_of_an_unparseable_target() -> None:
    """The dial plan refused the Request-URI (400/416): no Dialed at all."""
    assert dialled_form(None) == "unparseable"


def test_call_ref_is_time_sortable_and_its_tail_is_the_fronts_ref() -> None:
    """`call_` + 24 hex; the front's X-E911-Call-Ref is its last 16 hex digits (Kamailio
    accepts exactly 16), so grepping the front's ref also finds our log lines."""
    from router.sip.worker import front_ref

    first, second = new_call_ref(1_700_000_000.0), new_call_ref(1_700_000_001.0)
    assert re.fullmatch(r"call_[0-9a-f]{24}", first)
    assert first < second
    assert front_ref(first) == first[-16:]
    assert front_ref("7") is None


def test_masked_caller_keeps_no_dialable_number() -> None:
    """The caller in `e911.call.received`: extensions fully masked, numbers cut."""
    assert mask_number("1001") == "****"
    assert mask_number("+14065551001") == "+1406***1001"


def test_outcome_call_ref_is_the_call_ref_the_record_keeps() -> None:
    """The record (and so the auditor's export) keeps the outcome's call_ref unchanged."""
    from datetime import UTC, datetime

    from router.records.model import record_from_outcome

    done: CallOutcome = outcome(call_ref="call_0123456789ab0123456789ab")
    record = record_from_outcome(done, ended_at=datetime(2026, 3, 1, tzinfo=UTC), worker="5999")
    assert record is not None and record.call_ref == "call_0123456789ab0123456789ab"
