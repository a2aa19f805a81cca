"""Kari's Law end to end: SIPp places a 911 through a real worker; the worker's recorder writes
the outbox; a real `e911-router notify sender` e-mails the contact over real SMTP (aiosmtpd)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from router.location.model import DEFAULT_ACCOUNT_ID
from router.store.store import open_store
from tests.support.seeded_store import USER_CALLBACK
from tests.support.sender_process import spawn_sender
from tests.support.sipp import run_uac, uas_trunks
from tests.support.smtp_server import SmtpServer
from tests.support.worker import WorkerFactory

pytestmark = [pytest.mark.scenario]


def test_911_call_emails_the_emergency_contact_within_seconds(
    worker_factory: WorkerFactory, store_url: str, tmp_path: Path
) -> None:
    """The contact gets the caller, callback number and bound address, seconds after INVITE."""
    smtp = SmtpServer().start()
    sender = spawn_sender(store_url, smtp.url, tmp_path, poll_seconds=0.5)
    try:
        with uas_trunks(tmp_path, "uas-psap-answer") as (psap,):
            worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
            invited = time.time()
            result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
            assert result.ok, result.errors
            recorded = worker.wait_event("e911.notify.recorded")
            (received,) = smtp.handler.wait_for(1, timeout=10)
    finally:
        sender.stop()
        smtp.stop()
    assert received.at - invited < 3.0, f"e-mail {received.at - invited:.2f} s after INVITE"
    message = received.message
    assert received.rcpt_tos == ("ops@example.com",)
    assert message["Subject"] == "911 call placed by Ada Lovelace"
    assert message["X-E911-Call-Ref"] == recorded["call_ref"]
    text = received.text()
    assert f"Callback number: {USER_CALLBACK}" in text
    assert ("Emergency address sent to the 911 center:\n  105 E LARAMIE ST\n  STE 4\n"
            "  WHITE SULPHUR SPRINGS MT 59645") in text
    _assert_started_event(store_url, recorded["call_ref"])


def test_933_sends_nothing_by_default(
    worker_factory: WorkerFactory, store_url: str, tmp_path: Path
) -> None:
    """A 933 then a 911: only the 911 is recorded and e-mailed."""
    smtp = SmtpServer().start()
    sender = spawn_sender(store_url, smtp.url, tmp_path, poll_seconds=0.5)
    try:
        with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (test, psap):
            worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_TEST=test.uri)
            assert run_uac("uac-911-expect-200", worker.port, tmp_path, service="933").ok
            assert run_uac("uac-911-expect-200", worker.port, tmp_path, service="911").ok
            worker.wait_event("e911.notify.recorded")
            (received,) = smtp.handler.wait_for(1, timeout=10)
            assert worker.count("e911.notify.recorded") == 1
    finally:
        sender.stop()
        smtp.stop()
    assert received.message["Subject"] == "911 call placed by Ada Lovelace"


def _assert_started_event(store_url: str, call_ref: str) -> None:
    """The same step wrote `emergency_call.started` for the API's event stream (issue 6)."""
    store = open_store(store_url, migrate=False)
    try:
        deadline = time.monotonic() + 5
        while True:
            started = [e for e in store.list_events(DEFAULT_ACCOUNT_ID,
                                                     types=["emergency_call.started"])
                       if e.data.get("call_ref") == call_ref]
            if started or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        store.close()
    assert len(started) == 1
    event = started[0]
    assert (event.sip_user, event.data["dialed"], event.data["located"],
            event.data["test_call"]) == ("1001", "911", True, False)
    assert "address_lines" not in event.data and "callback_number" not in event.data
