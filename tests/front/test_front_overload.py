"""Overload through the front: what a caller gets when the workers have no room."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from tests.support.processes import wait_until
from tests.support.router_run import requires_kamailio, running_router
from tests.support.sipp import UacResult, run_uac

pytestmark = [pytest.mark.scenario, requires_kamailio]


def test_unlocated_call_without_an_announcement_slot_gets_403_at_once(
    front_store_url: str, tmp_path: Path
) -> None:
    """E911_ANNOUNCE_OVERFLOW=reject: one worker plays an announcement (its non-emergency share
    of slots: router/call/admission.py); the next unlocated caller gets the final 403 + Reason
    right away, not a 503 the PBX would retry."""
    with running_router({"E911_DATABASE_URL": front_store_url,
                         "E911_ANNOUNCE_OVERFLOW": "reject"}, tmp_path, workers=1) as router:
        holders: list[UacResult] = []

        def hold() -> None:
            holders.append(run_uac("uac-normal-unlocated-expect-183-403", router.sip_port,
                                   tmp_path, service="4065550123",
                                   caller_csv="callers-unlocated.csv",
                                   variables={"rtp_port": "9"}))

        threads = [threading.Thread(target=hold)]
        for thread in threads:
            thread.start()
        wait_until(lambda: router.count("e911.announce.playing") >= 1, 20,
                   "the announcement playing")
        refused = run_uac("uac-expect-403", router.sip_port, tmp_path, service="4065550199",
                          caller_csv="callers-unlocated.csv")
        assert refused.ok, refused.errors
        assert re.search(r'^Reason: SIP;cause=403;text="Emergency address not registered"',
                         refused.messages, re.M)
        ended = router.wait_event("e911.call.ended", where=lambda e: e["result"] == "rejected")
        assert ended["status"] == 403
        for thread in threads:
            thread.join(40)
        assert [h.ok for h in holders] == [True]
