"""NG911 by setting (issue 18 deliverable 4), end to end on the worker's bridge: SIPp caller ->
worker (pjsua2) -> SIPp trunks, each INVITE checked as the trunk received it."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.call.emergency_invite import SOS_SERVICE_URN
from router.location.model import DEFAULT_ACCOUNT_ID, Callback, CallbackPreference
from router.store.store import open_store
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.seeded_store import LOCATED_USER, OFFICE, USER_CALLBACK
from tests.support.sipp import run_uac, uas_trunks
from tests.support.worker import WorkerFactory

pytestmark = [pytest.mark.scenario]

NG911 = {"E911_EMERGENCY_REQUEST_URI": "sos", "E911_EMERGENCY_PATH": "bridge",
         "E911_FRONT": "kamailio",
         "E911_PROVIDER_NAME": "Example Voice Inc",
         "E911_PROVIDER_CONTACT": "sip:+12025550100@noc.example.net"}


def test_carrier_trunk_gets_todays_invite(worker_factory: WorkerFactory, tmp_path: Path) -> None:
    """Default setting (carrier E911 trunk): sip:911@trunk, no Route, no Call-Info, no blocks."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_SORTING_CENTER=sorting.uri,
                                E911_EMERGENCY_PATH="bridge")
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        captured = assert_emergency_invite(invite, InviteExpectation(
            request_uri=f"sip:911@{psap.uri.removeprefix('sip:')}",
            callback_number=USER_CALLBACK, civic=OFFICE, language="en", additional_data=False))
        assert captured.message.values("Route") == []
        assert captured.message.values("Call-Info") == []


def test_located_911_with_sos_is_handed_to_the_front(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """E911_EMERGENCY_REQUEST_URI=sos: a located 911 in the NG911 form (PIDF-LO + 3 RFC 7852
    blocks, about 4 KB) is more than the worker can send, so it answers the front's 302 and
    bridges nothing (tests/front/test_front_ng911.py follows the call through Kamailio)."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_SORTING_CENTER=sorting.uri,
                                **NG911)
        result = run_uac("uac-expect-302", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        front = worker.wait_event("e911.emergency.front")
        assert front["purpose"] == "psap"
        assert psap.invites() == [] and sorting.invites() == []


def test_933_keeps_the_carrier_form_with_sos(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """933 in SOS mode: the test trunk gets sip:933@trunk with the PIDF-LO, no blocks."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, test):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_TEST=test.uri, **NG911)
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="933")
        assert result.ok, result.errors
        (invite,) = test.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            request_user="933", callback_number=USER_CALLBACK, civic=OFFICE,
            additional_data=False))
        assert psap.invites() == []


def test_sos_without_callback_is_bridged_to_the_service_urn_through_the_trunk(
    worker_factory: WorkerFactory, store_url: str, tmp_path: Path
) -> None:
    """A located 911 with no NANP callback number anywhere (here only UK numbers, which the
    PAI cannot carry) fits the worker: it bridges it itself as
    urn:service:sos from the account whose route set is the ESInet trunk (PJSUA refuses a urn:
    Request-URI from any other account: PJSIP_ENOROUTESET), with its PIDF-LO, no PAI, and
    the ProviderInfo and ServiceInfo blocks (no SubscriberInfo: no number to name)."""
    store = open_store(store_url)
    try:
        store.update_account(DEFAULT_ACCOUNT_ID,
                             callback=Callback("Acme Dispatch", "+442071234567", "en"))
        store.upsert_user(DEFAULT_ACCOUNT_ID, LOCATED_USER, display_name="Ada Lovelace",
                          callback_number="+442071234568", language="en",
                          callback_preference=CallbackPreference.OWN)
    finally:
        store.close()
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_SORTING_CENTER=sorting.uri,
                                **NG911)
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        message = assert_emergency_invite(invite, InviteExpectation(
            request_user=None, request_uri=SOS_SERVICE_URN, asserted_identity=False,
            civic=OFFICE, language="en", additional_data=True)).message
        assert message.values("Route") == [f"<{psap.uri};lr>"]
        assert [v.rpartition("purpose=")[2] for v in message.values("Call-Info")] == [
            "EmergencyCallData.ProviderInfo", "EmergencyCallData.ServiceInfo"]
        assert sorting.invites() == []
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["trunk"]) == ("bridged", "psap")
