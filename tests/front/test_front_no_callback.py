"""A located 911 when no callback number is known, on the front path: the worker's 302 has
X-E911-PIDF and no X-E911-PAI, and Kamailio still sends the PSAP trunk the PIDF-LO. SIPp
caller and trunks, Kamailio and real workers on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.front_path import FRONT
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.router_run import running_router
from tests.support.seeded_store import OFFICE, forget_callback_numbers
from tests.support.sipp import run_uac, uas_trunks

pytestmark = [pytest.mark.scenario]


def test_front_path_located_911_without_callback_reaches_psap_with_pidf_lo(
    front_store_url: str, tmp_path: Path
) -> None:
    """E911_EMERGENCY_PATH=front, extension 1001 with no NANP callback anywhere: the PSAP
    trunk gets Priority, Geolocation and a schema-valid PIDF-LO with the caller's address,
    no P-Asserted-Identity, and Kamailio counts the 302 as well-formed (not malformed)."""
    forget_callback_numbers(front_store_url)
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer") as (psap, sorting), \
            running_router({**FRONT, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="911")
        assert result.ok, result.errors
        (invite,) = psap.wait_invites(1)
        assert_emergency_invite(invite, InviteExpectation(
            request_user="911", asserted_identity=False, has_location=True, civic=OFFICE,
            language="en"))
        assert "X-E911-" not in invite
        assert sorting.invites() == []
        followed = router.wait_line("e911.front.redirect_followed")
        assert " route=psap " in followed and " located=0" not in followed
        assert not any("redirect_malformed" in line for line in router.lines)
