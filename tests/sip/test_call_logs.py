"""One reference and one bound logger per call, on real calls: SIPp caller -> worker process
(real pjsua2) -> SIPp trunks, the worker's JSON log lines read from its stderr.

One 911 call: the same `call_ref` in `e911.call.received`, `e911.route.decided`,
`e911.call.ended`, the call record and the stored notification; every line about the call
carries call_ref, call_id, call_class, account and port; no line carries the callback number,
the address or the PIDF-LO. A first trunk answering 503 (or nothing) logs `e911.leg.failed_over`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from router.location.model import DEFAULT_ACCOUNT_ID
from router.notify.outbox import Outbox
from router.records.store import RecordStore
from router.sip.announce import load_prompts
from router.store.store import open_store
from tests.support.paths import PROMPTS
from tests.support.seeded_store import USER_CALLBACK
from tests.support.sipp import run_uac, uas_trunks
from tests.support.worker import WorkerFactory, WorkerProcess

pytestmark = [pytest.mark.sip]

BOUND = {"port", "call_ref", "call_id", "call_class", "account"}
"""Every log line about a call carries these (docs/observability.md, "Logs")."""
COMMON = {"event", "level", "timestamp"}


def _call_events(worker: WorkerProcess, call_ref: str) -> list[dict[str, object]]:
    return [e for e in worker.events if e.get("call_ref") == call_ref]


def _fields(event: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in event.items() if k not in COMMON}


def test_911_has_one_call_ref_in_logs_record_and_notification(
    worker_factory: WorkerFactory, store_url: str, tmp_path: Path
) -> None:
    """A located 911 bridged to the PSAP: received, decided and ended carry exactly these
    fields and one call_ref, which the call record and the notification also hold."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        ended = worker.wait_event("e911.call.ended")
        written = worker.wait_event("e911.record.written")
        recorded = worker.wait_event("e911.notify.recorded")
    call_ref = str(ended["call_ref"])
    call_id = str(ended["call_id"])
    assert call_ref.startswith("call_") and call_id
    (received,) = [e for e in worker.events if e["event"] == "e911.call.received"]
    (decided,) = [e for e in worker.events if e["event"] == "e911.route.decided"]
    bound = {"port": worker.port, "call_ref": call_ref, "call_id": call_id,
             "call_class": "emergency", "account": DEFAULT_ACCOUNT_ID}
    assert _fields(received) == {**bound, "dialled_form": "short_code", "caller": "****"}
    assert _fields(decided) == {**bound, "action": "bridge", "located": True, "attempts": 2,
                                "language": "en"}
    assert _fields(ended) == {**bound, "action": "bridge", "path": "bridge",
                              "result": "bridged", "status": 200, "attempts": 1,
                              "trunk": "psap", "location": "binding",
                              "setup_ms": ended["setup_ms"]}
    assert (received["level"], decided["level"], ended["level"]) == (
        "info", "info", "info")
    order = [e["event"] for e in _call_events(worker, call_ref)]
    assert order.index("e911.call.received") < order.index("e911.route.decided") < \
        order.index("e911.trunk.attempt") < order.index("e911.call.ended")
    # Every worker line about the call is bound to it, with the same fields.
    about_call = [e for e in worker.events if e.get("call_id") == call_id]
    assert {str(e["event"]) for e in about_call} >= {
        "e911.call.received", "e911.route.decided", "e911.bridge.state", "e911.trunk.attempt",
        "e911.call.ended"}
    for event in about_call:
        assert {k: event.get(k) for k in BOUND} == bound, event
    # The record and the notification: the same reference, the same Call-ID.
    assert (written["call_ref"], recorded["call_ref"]) == (call_ref, call_ref)
    store = open_store(store_url, migrate=False)
    try:
        (chained,) = list(RecordStore(store).iter_chain())
        notified = Outbox(store).get_call(call_ref)
    finally:
        store.close()
    assert (chained.record.call_ref, chained.record.sip_call_id,
            chained.record.worker) == (call_ref, call_id, str(worker.port))
    assert notified is not None
    assert (notified.notice.call_ref, notified.notice.sip_call_id) == (call_ref, call_id)
    # Never a full callback number, an address or a PIDF-LO body in a log line.
    text = json.dumps(worker.events) + "\n".join(worker.raw)
    for secret in (USER_CALLBACK, "LARAMIE", "59645", "<presence", "civicAddress"):
        assert secret not in text


def test_front_302_names_the_call_by_the_tail_of_its_call_ref(
    worker_factory: WorkerFactory, store_url: str, tmp_path: Path
) -> None:
    """E911_EMERGENCY_PATH=front: the 302's X-E911-Call-Ref (Kamailio's reference) is the
    call_ref's last 16 hex digits; the record and the notification hold the full call_ref."""
    worker = worker_factory(E911_EMERGENCY_PATH="front")
    result = run_uac("uac-expect-302", worker.port, tmp_path, service="911")
    assert result.ok, result.errors
    ended = worker.wait_event("e911.call.ended")
    front = worker.wait_event("e911.emergency.front")
    worker.wait_event("e911.record.written")
    worker.wait_event("e911.notify.recorded")
    call_ref = str(ended["call_ref"])
    (header,) = re.findall(r"^X-E911-Call-Ref: *(\S+)", result.messages, re.M)
    assert header == front["front_ref"] == call_ref[-16:]
    assert (front["call_ref"], ended["path"], ended["status"]) == (call_ref, "front", 302)
    store = open_store(store_url, migrate=False)
    try:
        (chained,) = list(RecordStore(store).iter_chain())
        notified = Outbox(store).get_call(call_ref)
    finally:
        store.close()
    assert chained.record.call_ref == call_ref and notified is not None


def test_first_trunk_503_logs_leg_failed_over_on_the_calls_logger(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """PSAP 1 answers 503: one `e911.leg.failed_over` (503, attempt 2) to PSAP 2, bound to
    the call like its `e911.call.ended`."""
    with uas_trunks(tmp_path, "uas-trunk-503", "uas-psap-answer") as (down, up):
        worker = worker_factory(E911_TRUNK_PSAP=f"{down.uri},{up.uri}")
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        ended = worker.wait_event("e911.call.ended")
    (failed_over,) = [e for e in worker.events if e["event"] == "e911.leg.failed_over"]
    assert _fields(failed_over) == {
        "port": worker.port, "call_ref": ended["call_ref"], "call_id": ended["call_id"],
        "call_class": "emergency", "account": DEFAULT_ACCOUNT_ID,
        "from_trunk": down.uri, "to_trunk": up.uri, "status": 503, "attempt": 2}
    assert (ended["result"], ended["attempts"]) == ("bridged", 2)


def test_silent_first_trunk_logs_leg_failed_over_with_timeout(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """PSAP 1 never answers: after the trunk timeout the failover says "timeout"."""
    with uas_trunks(tmp_path, "uas-trunk-silent", "uas-psap-answer") as (silent, up):
        worker = worker_factory(E911_TRUNK_PSAP=f"{silent.uri},{up.uri}",
                                E911_TRUNK_TIMEOUT_SECONDS="1")
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        ended = worker.wait_event("e911.call.ended")
    (failed_over,) = [e for e in worker.events if e["event"] == "e911.leg.failed_over"]
    assert (failed_over["call_ref"], failed_over["from_trunk"], failed_over["to_trunk"],
            failed_over["status"], failed_over["attempt"]) == (
        ended["call_ref"], silent.uri, up.uri, "timeout", 2)


def test_redirect_reports_its_setup_time_and_a_bound_ended_event(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """A normal call answered at once with 302: setup is measured from the INVITE (no longer
    0) and its lines carry the normal class and the account."""
    worker = worker_factory()
    result = run_uac("uac-normal-located-expect-302", worker.port, tmp_path,
                     service="94065550123")
    assert result.ok, result.errors
    ended = worker.wait_event("e911.call.ended")
    (received,) = [e for e in worker.events if e["event"] == "e911.call.received"]
    assert (ended["result"], ended["status"], ended["call_class"], ended["account"]) == (
        "redirected", 302, "normal", DEFAULT_ACCOUNT_ID)
    assert 0 < float(ended["setup_ms"]) < 1000  # type: ignore[arg-type]
    assert (received["call_ref"], received["dialled_form"], received["caller"]) == (
        ended["call_ref"], "access_prefix", "****")


def test_early_announcement_setup_runs_to_the_final_403_after_the_prompt(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """Early mode: 183, the prompt, then the first final answer (403): the setup time spans
    the prompt (it was 0 before); the announcement's lines are bound to the call."""
    (prompt,) = load_prompts(PROMPTS, ("en",)).values()
    worker = worker_factory()
    result = run_uac("uac-normal-unlocated-expect-183-403", worker.port, tmp_path,
                     service="4065550123", caller_csv="callers-unknown.csv",
                     variables={"rtp_port": "9"})
    assert result.ok, result.errors
    ended = worker.wait_event("e911.call.ended")
    playing = worker.wait_event("e911.announce.playing")
    assert (ended["result"], ended["status"], ended["call_class"], ended["account"]) == (
        "announced", 403, "normal", DEFAULT_ACCOUNT_ID)
    assert {k: playing[k] for k in BOUND} == {k: ended[k] for k in BOUND}
    setup_seconds = float(ended["setup_ms"]) / 1000  # type: ignore[arg-type]
    assert prompt.seconds < setup_seconds < prompt.seconds + 5


def test_untrusted_invite_is_bound_to_its_call_with_class_invalid(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """From outside E911_TRUSTED_PEERS (127.0.0.5): `e911.ingress.untrusted` and
    `e911.call.ended` carry one call_ref, class "invalid" and a null account (nothing was
    classified)."""
    worker = worker_factory(E911_TRUSTED_PEERS="127.0.0.1/32")
    result = run_uac("uac-expect-403", worker.port, tmp_path, service="911",
                     source_ip="127.0.0.5")
    assert result.ok, result.errors
    ended = worker.wait_event("e911.call.ended")
    untrusted = worker.wait_event("e911.ingress.untrusted")
    assert {k: untrusted[k] for k in BOUND} == {k: ended[k] for k in BOUND}
    assert (ended["call_class"], ended["account"], ended["status"]) == ("invalid", None, 403)
    assert worker.count("e911.call.received") == 0
