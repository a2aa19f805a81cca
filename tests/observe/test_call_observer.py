"""One frozen outcome, observed twice: `e911_*` metrics and the call record (pure, no pjsua2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from router.call.outcome import Result, TrunkAttempt
from router.metrics import (
    REGISTRY,
    CallOutcomeLabel,
    TrunkStatusClass,
    outcome_label,
    status_class,
)
from router.observe import CallObserver, TimedView, count_call
from router.records.model import CallRecord, pidf_sha256
from tests.observe.samples import CALLBACK, PIDF, PSAP, SORTING, outcome


class Sampled:
    """Sample values relative to the start of a test (metrics are process-wide)."""

    def __init__(self) -> None:
        self._start = {(s.name, tuple(sorted(s.labels.items()))): s.value
                       for f in REGISTRY.collect() for s in f.samples}

    def delta(self, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        now = REGISTRY.get_sample_value(name, labels) or 0.0
        return now - self._start.get(key, 0.0)


@pytest.fixture
def sampled() -> Iterator[Sampled]:
    yield Sampled()


@pytest.mark.parametrize(("changes", "label"), [
    ({}, CallOutcomeLabel.ROUTED_PSAP),
    ({"trunk_purpose": "sorting_center"}, CallOutcomeLabel.ROUTED_SORTING_CENTER),
    ({"trunk_purpose": "test", "call_class": "emergency_test"}, CallOutcomeLabel.ROUTED_TEST),
    ({"trunk_purpose": "outbound", "call_class": "normal"}, CallOutcomeLabel.ROUTED_OUTBOUND),
    ({"result": Result.REDIRECTED, "status": 302}, CallOutcomeLabel.REDIRECTED),
    ({"result": Result.ANNOUNCED, "status": 403}, CallOutcomeLabel.ANNOUNCED_BLOCKED),
    ({"result": Result.REJECTED, "status": 403}, CallOutcomeLabel.REJECTED_UNTRUSTED),
    ({"result": Result.REJECTED, "status": 404}, CallOutcomeLabel.REJECTED),
    ({"result": Result.SHED, "status": 503}, CallOutcomeLabel.SHED_OVERLOAD),
    ({"result": Result.CANCELLED, "status": 487}, CallOutcomeLabel.CANCELLED),
    ({"result": Result.FAILED, "status": 302}, CallOutcomeLabel.FAILED),
])
def test_outcome_label_of_each_result(changes: dict[str, object],
                                      label: CallOutcomeLabel) -> None:
    """Every worker result maps to one `outcome` label value."""
    assert outcome_label(outcome(**changes)) is label


def test_status_class_of_trunk_endings() -> None:
    """Final codes by hundred; our own timeout, a send failure and no answer are named."""
    assert [status_class(s) for s in (200, 302, 486, 503, 603, 0)] == [
        TrunkStatusClass.S2XX, TrunkStatusClass.S3XX, TrunkStatusClass.S4XX,
        TrunkStatusClass.S5XX, TrunkStatusClass.S6XX, TrunkStatusClass.ABANDONED]
    assert status_class(408, timed_out=True) is TrunkStatusClass.TIMEOUT
    assert status_class(500, not_sent=True) is TrunkStatusClass.ERROR


def test_bridged_911_counts_call_setup_and_each_trunk_attempt(sampled: Sampled) -> None:
    """One outcome: calls +1, one setup observation of 0.25 s, a 5xx and a 2xx attempt."""
    count_call(outcome())
    assert sampled.delta("e911_calls_total", call_class="emergency",
                         outcome="routed_psap") == 1
    assert sampled.delta("e911_call_setup_seconds_count", call_class="emergency") == 1
    assert sampled.delta("e911_call_setup_seconds_sum", call_class="emergency") == 0.25
    assert sampled.delta("e911_call_setup_seconds_bucket", call_class="emergency",
                         le="0.25") == 1
    assert sampled.delta("e911_call_setup_seconds_bucket", call_class="emergency",
                         le="0.1") == 0
    assert sampled.delta("e911_trunk_attempts_total", trunk="sip:127.0.0.1:5070",
                         status_class="5xx") == 1
    assert sampled.delta("e911_trunk_attempts_total", trunk=PSAP, status_class="2xx") == 1


def test_cancelled_call_is_counted_without_a_setup_time(sampled: Sampled) -> None:
    """A caller who cancelled got no final answer from us: no setup observation."""
    count_call(outcome(result=Result.CANCELLED, status=487, tried=(
        TrunkAttempt(SORTING, "sorting_center", 0),)))
    assert sampled.delta("e911_calls_total", call_class="emergency", outcome="cancelled") == 1
    assert sampled.delta("e911_call_setup_seconds_count", call_class="emergency") == 0
    assert sampled.delta("e911_trunk_attempts_total", trunk=SORTING,
                         status_class="abandoned") == 1


class Records:
    def __init__(self) -> None:
        self.submitted: list[CallRecord] = []

    def submit(self, record: CallRecord) -> None:
        self.submitted.append(record)


def test_emergency_outcome_becomes_one_record_with_derived_times() -> None:
    """The record keeps dial string, trunks, location id, callback number and the PIDF-LO
    with its hash; INVITE and answer times come from the outcome's durations."""
    ended = datetime(2026, 3, 1, 12, 0, 30, 250000, tzinfo=UTC)
    records = Records()
    CallObserver("5060", records, wall_clock=lambda: ended).observe(outcome())
    (rec,) = records.submitted
    assert rec.invite_at == ended - timedelta(seconds=30.25)
    assert rec.answered_at == ended - timedelta(seconds=30)
    assert (rec.call_class, rec.outcome, rec.result, rec.final_status) == (
        "emergency", "routed_psap", "bridged", 200)
    assert (rec.dialed, rec.location_id, rec.callback_number, rec.trunk_used) == (
        "911", "adr_1", CALLBACK, PSAP)
    assert [(t.trunk, t.status) for t in rec.trunks_tried] == [
        ("sip:127.0.0.1:5070", 503), (PSAP, 200)]
    assert (rec.pidf_lo, rec.pidf_sha256) == (PIDF, pidf_sha256(PIDF))
    assert (rec.worker, rec.call_ref, rec.sip_call_id) == ("5060", "7", "abc@pbx")
    assert rec.id.startswith("rec_")


def test_normal_call_leaves_no_record() -> None:
    """Only emergency and test calls are recorded."""
    records = Records()
    CallObserver("5060", records).observe(outcome(call_class="normal",
                                                  result=Result.REDIRECTED, status=302))
    assert records.submitted == []


def test_failing_record_queue_never_reaches_the_sip_thread(sampled: Sampled) -> None:
    """A broken record sink is logged; the call is still counted and nothing is raised."""
    class Broken:
        def submit(self, record: CallRecord) -> None:
            raise RuntimeError("disk gone")

    with capture_logs() as logs:
        CallObserver("5060", Broken()).observe(outcome())
    assert sampled.delta("e911_calls_total", call_class="emergency", outcome="routed_psap") == 1
    assert [(e["event"], e["call_ref"]) for e in logs] == [("e911.observe.record_failed", "7")]


def test_timed_view_observes_each_lookup(sampled: Sampled) -> None:
    """Each locate() adds one observation of the time the view took."""
    ticks = iter([10.0, 10.0003])

    class View:
        def locate(self, account_id: str, sip_user: str, device_ip: str) -> object:
            return "here"

        def caller_context(self, account_id: str, sip_user: str) -> object:
            return "ctx"

    view = TimedView(View(), clock=lambda: next(ticks))  # type: ignore[arg-type]
    assert view.locate("a", "u", "127.0.0.1") == "here"
    assert sampled.delta("e911_location_lookup_seconds_count") == 1
    assert sampled.delta("e911_location_lookup_seconds_bucket", le="0.0005") == 1
    assert sampled.delta("e911_location_lookup_seconds_bucket", le="0.00025") == 0
