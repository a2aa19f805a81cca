"""NG911 by setting on the front path (issue 18 deliverable 4): SIPp caller -> Kamailio ->
worker (302) -> Kamailio builds the INVITE -> SIPp trunks; each INVITE checked as the trunk
received it, per trunk kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.call.emergency_invite import SOS_SERVICE_URN
from tests.support.front_path import FRONT, NG911
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.router_run import requires_kamailio, running_router
from tests.support.seeded_store import OFFICE, USER_CALLBACK, forget_callback_numbers
from tests.support.sipp import run_uac, uas_trunks

pytestmark = [pytest.mark.scenario, requires_kamailio]



def _route(trunk_uri: str) -> str:
    return f"<{trunk_uri};lr>"


def test_carrier_trunk_gets_todays_invite_from_the_front(
    front_store_url: str, tmp_path: Path
) -> None:
    """Default (carrier E911 trunk): sip:911@trunk, no Route, no Call-Info, no RFC 7852 part."""
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting), \
            running_router({**FRONT, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        captured = assert_emergency_invite(invite, InviteExpectation(
            request_uri=f"sip:911@{psap.uri.removeprefix('sip:')}",
            callback_number=USER_CALLBACK, civic=OFFICE, language="en", additional_data=False))
        assert captured.message.values("Route") == []
        assert captured.message.values("Call-Info") == []


def test_esinet_trunks_get_sos_urn_route_and_additional_data_from_the_front(
    front_store_url: str, tmp_path: Path
) -> None:
    """E911_EMERGENCY_REQUEST_URI=sos (i3 ESInet trunks): Kamailio sends urn:service:sos to the
    trunk (next hop and Route), Call-Info naming ProviderInfo, ServiceInfo and SubscriberInfo
    parts with the caller's name and callback, the PIDF-LO still valid; the first ESInet trunk
    answers 503 and the second gets the same form; the sorting center is not called."""
    with uas_trunks(tmp_path, "uas-trunk-503", "uas-psap-answer", "uas-psap-answer") as (
            down, up, sorting), \
            running_router({**FRONT, **NG911, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": f"{down.uri},{up.uri}",
                            "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        for trunk in (down, up):
            (invite,) = trunk.wait_invites(1)
            captured = assert_emergency_invite(invite, InviteExpectation(
                request_user=None, request_uri=SOS_SERVICE_URN, callback_number=USER_CALLBACK,
                display_name="Ada Lovelace", civic=OFFICE, language="en", additional_data=True))
            assert captured.message.values("Route") == [_route(trunk.uri)]
            assert "X-E911-" not in invite
            subscriber = next(p.body.decode() for p in captured.body.parts
                              if "subscriberinfo" in p.media_type)
            assert "<xc:text>Ada Lovelace</xc:text>" in subscriber
            assert f"<xc:uri>tel:{USER_CALLBACK}</xc:uri>" in subscriber
        assert sorting.invites() == []
        router.wait_line("e911.front.redirect_followed")


def test_esinet_trunk_gets_the_additional_data_of_a_caller_with_no_callback_number(
    front_store_url: str, tmp_path: Path
) -> None:
    """Issue 18: a located 911 with no callback number anywhere, E911_EMERGENCY_REQUEST_URI=sos,
    front path: the ESInet trunk gets urn:service:sos, the PIDF-LO, and ProviderInfo and
    ServiceInfo named from Call-Info, as the bridge sends them (SubscriberInfo has no number to
    name, so it is left out, and so is P-Asserted-Identity). Before: no RFC 7852 block at all."""
    forget_callback_numbers(front_store_url)
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting), \
            running_router({**FRONT, **NG911, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        captured = assert_emergency_invite(invite, InviteExpectation(
            request_user=None, request_uri=SOS_SERVICE_URN, asserted_identity=False,
            has_location=True, civic=OFFICE, language="en", additional_data=True))
        assert captured.message.values("Route") == [_route(psap.uri)]
        infos = [v for h in captured.message.values("Call-Info") for v in h.split(",")]
        purposes = sorted(v.split("purpose=")[1].strip() for v in infos)
        assert purposes == ["EmergencyCallData.ProviderInfo", "EmergencyCallData.ServiceInfo"]
        assert "X-E911-" not in invite
        assert sorting.invites() == []
        router.wait_line("e911.front.redirect_followed")
