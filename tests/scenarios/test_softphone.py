"""A real softphone (baresip) through the worker: 911 reaches the PSAP with a valid PIDF-LO,
and an unlocated caller hears the announcement and gets 403."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.baresip import Baresip, audio_stats
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.seeded_store import OFFICE, USER_CALLBACK
from tests.support.sipp import uas_trunks
from tests.support.worker import WorkerFactory

pytestmark = [
    pytest.mark.scenario,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip not installed"),
]


def test_baresip_911_reaches_psap_with_valid_pidf_lo(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """baresip (user 1001, located) dials 911: the PSAP answers and gets a valid PIDF-LO."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        phone = Baresip.start(tmp_path / "baresip", "1001")
        try:
            phone.command("dial", f"sip:911@127.0.0.1:{worker.port}")
            phone.wait_event("CALL_ESTABLISHED")
            (invite,) = psap.wait_invites(1)
            assert_emergency_invite(invite, InviteExpectation(
                callback_number=USER_CALLBACK, has_location=True, civic=OFFICE, language="en"))
            phone.command("hangup")
            phone.wait_event("CALL_CLOSED")
            assert psap.proc.wait(10) == 0
        finally:
            phone.stop()


def test_baresip_unlocated_caller_hears_announcement_then_403(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """baresip (user 2002, no address) dials a number: it records the Spanish announcement
    (real, non-silent audio) and the call closes with 403 Forbidden."""
    worker = worker_factory()
    phone = Baresip.start(tmp_path / "baresip", "2002")
    try:
        phone.command("dial", f"sip:4065550123@127.0.0.1:{worker.port}")
        closed = phone.wait_event("CALL_CLOSED", timeout=40)
        assert "403" in str(closed.get("param")), closed
    finally:
        phone.stop()
    (recording,) = phone.recordings()
    seconds, rms = audio_stats(recording)
    assert seconds > 8.0
    assert rms > 0.01
