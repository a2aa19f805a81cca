"""911 and 933 end to end: SIPp caller -> worker -> SIPp trunks, the INVITE checked at the trunk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.seeded_store import ACCOUNT_CALLBACK, OFFICE, USER_CALLBACK
from tests.support.sipp import run_uac, uas_trunks
from tests.support.worker import WorkerFactory

pytestmark = [pytest.mark.scenario]


def test_911_from_located_caller_reaches_psap_with_valid_pidf_lo(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """A located caller's 911 is bridged to the PSAP trunk with PAI, Priority and a PIDF-LO."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_SORTING_CENTER=sorting.uri)
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            request_user="911", callback_number=USER_CALLBACK, display_name="Ada Lovelace",
            has_location=True, civic=OFFICE, language="en"))
        assert sorting.invites() == []
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["trunk"], ended["location"]) == (
            "bridged", "psap", "binding")


def test_911_from_unlocated_caller_goes_to_sorting_center_with_callback(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """No address for the caller: the 911 is bridged to the sorting center, PAI, no PIDF-LO."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_SORTING_CENTER=sorting.uri)
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911",
                         caller_csv="callers-unlocated.csv")
        assert result.ok, result.errors
        (invite,) = sorting.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            request_user="911", callback_number=ACCOUNT_CALLBACK, display_name="Grace Hopper",
            has_location=False, language="es"))
        assert psap.invites() == []
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["trunk"], ended["location"]) == (
            "bridged", "sorting_center", "")


def test_933_goes_to_test_trunk_with_location(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """933 is bridged like 911 but to the test trunk, Request-URI user 933."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, test):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_TEST=test.uri)
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="933")
        assert result.ok, result.errors
        (invite,) = test.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            request_user="933", callback_number=USER_CALLBACK, has_location=True, civic=OFFICE))
        assert psap.invites() == []


def test_911_fails_over_from_503_trunk_to_next_psap(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """The first PSAP trunk answers 503: the same INVITE goes to the second, which answers."""
    with uas_trunks(tmp_path, "uas-trunk-503", "uas-psap-answer", "uas-psap-answer") as (
            down, up, sorting):
        worker = worker_factory(E911_TRUNK_PSAP=f"{down.uri},{up.uri}",
                                E911_TRUNK_SORTING_CENTER=sorting.uri)
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        assert len(down.wait_invites(1)) == 1
        (invite,) = up.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(civic=OFFICE))
        assert sorting.invites() == []
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["attempts"], ended["trunk"]) == ("bridged", 2, "psap")


def test_911_fails_over_from_silent_trunk_after_timeout(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """The first PSAP trunk never answers: after E911_TRUNK_TIMEOUT_SECONDS the next one gets
    the call."""
    with uas_trunks(tmp_path, "uas-trunk-silent", "uas-psap-answer") as (silent, up):
        worker = worker_factory(E911_TRUNK_PSAP=f"{silent.uri},{up.uri}",
                                E911_TRUNK_TIMEOUT_SECONDS="1")
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        assert len(silent.wait_invites(1)) >= 1
        assert len(up.wait_invites(1)) == 1
        worker.wait_event("e911.trunk.timeout")
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["attempts"]) == ("bridged", 2)
        assert 1.0 <= float(ended["setup_ms"]) / 1000 < 3.0  # type: ignore[arg-type]


def test_911_falls_back_to_sorting_center_when_every_psap_fails(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """Both PSAP trunks refuse: the sorting center (the last attempt) takes the call."""
    with uas_trunks(tmp_path, "uas-trunk-503", "uas-trunk-503", "uas-psap-answer") as (
            first, second, sorting):
        worker = worker_factory(E911_TRUNK_PSAP=f"{first.uri},{second.uri}",
                                E911_TRUNK_SORTING_CENTER=sorting.uri)
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        assert len(sorting.wait_invites(1)) == 1
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["attempts"], ended["trunk"]) == (
            "bridged", 3, "sorting_center")


def test_911_is_redirected_not_refused_when_every_trunk_fails(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """PSAP and sorting center both refuse: the caller gets a 302 to the emergency route."""
    with uas_trunks(tmp_path, "uas-trunk-503", "uas-trunk-503") as (psap, sorting):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_SORTING_CENTER=sorting.uri)
        result = run_uac("uac-expect-302", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        assert f"Contact: <sip:911@127.0.0.1:{psap.port}>" in result.messages
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["status"]) == ("failed", 302)


def test_bye_from_psap_ends_the_callers_leg(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """The PSAP hangs up first: the caller receives a BYE."""
    with uas_trunks(tmp_path, "uas-trunk-bye") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-expect-bye-from-trunk", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["status"]) == ("bridged", 200)


def test_bye_from_caller_ends_the_psap_leg(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """The caller hangs up first: the PSAP receives a BYE (its scenario completes)."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0


def test_cancel_while_ringing_cancels_the_trunk_leg(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """The caller CANCELs while the PSAP rings: caller gets 487, the PSAP gets a CANCEL."""
    with uas_trunks(tmp_path, "uas-trunk-ring") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        result = run_uac("uac-cancel-while-ringing", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        assert psap.proc.wait(10) == 0
        ended = worker.wait_event("e911.call.ended")
        assert ended["result"] == "cancelled"


def test_device_ip_header_from_pbx_decides_the_location(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """A trusted PBX says the phone is on 10.9.9.9 (no binding there): the 911 goes to the
    sorting center, although the INVITE's source (127.0.0.1) is bound."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_SORTING_CENTER=sorting.uri,
                                E911_PBX_PEERS="127.0.0.1/32",
                                E911_DEVICE_IP_HEADER="X-E911-Device-IP")
        result = run_uac("uac-911-via-pbx-expect-200", worker.port, tmp_path, service="911",
                         caller_csv="callers-pbx-elsewhere.csv")
        assert result.ok, result.errors
        assert len(sorting.wait_invites(1)) == 1
        assert psap.invites() == []
