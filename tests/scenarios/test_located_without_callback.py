"""A located 911 when no callback number is known, end to end on the worker's bridge: SIPp
caller (extension 1001, not a NANP number; the account's callback is a UK number the PAI
cannot carry) -> worker (pjsua2) -> SIPp PSAP trunk, which must get the PIDF-LO."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.seeded_store import OFFICE, forget_callback_numbers
from tests.support.sipp import run_uac, uas_trunks
from tests.support.worker import WorkerFactory

pytestmark = [pytest.mark.scenario]


def test_located_911_without_callback_reaches_psap_with_valid_pidf_lo(
    worker_factory: WorkerFactory, store_url: str, tmp_path: Path
) -> None:
    """The PSAP trunk gets sip:911@trunk, Priority, Geolocation and a schema-valid PIDF-LO
    with the caller's address, and no P-Asserted-Identity (there is no number to assert)."""
    forget_callback_numbers(store_url)
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_SORTING_CENTER=sorting.uri,
                                E911_EMERGENCY_PATH="bridge")
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            request_uri=f"sip:911@{psap.uri.removeprefix('sip:')}", asserted_identity=False,
            has_location=True, civic=OFFICE, language="en", additional_data=False))
        assert sorting.invites() == []
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["trunk"], ended["location"]) == (
            "bridged", "psap", "binding")
