"""Issue 18 finding 7: a 180 relayed after the 200 (Kamailio with several UDP receivers can send
them in that order, docs/front-path.md). What a real RFC 3261 UA does with it: pjsua2 (the
worker's trunk leg) ignores it and the call goes on; only SIPp's strict scenario fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.sipp import run_uac, uas_trunks
from tests.support.worker import WorkerFactory

pytestmark = [pytest.mark.scenario]


def test_pjsua2_ignores_a_180_after_the_200(worker_factory: WorkerFactory, tmp_path: Path
                                            ) -> None:
    """The PSAP trunk sends 100, 200, then (after the ACK) 180: the worker's leg stays up, the
    caller gets its 200 and hangs up normally (BYE relayed to the trunk), nothing fails over."""
    with uas_trunks(tmp_path, "uas-psap-late-180", "uas-psap-answer") as (psap, sorting):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri, E911_TRUNK_SORTING_CENTER=sorting.uri,
                                E911_EMERGENCY_PATH="bridge")
        result = run_uac("uac-911-expect-200", worker.port, tmp_path, service="911")
        assert result.ok, result.errors
        assert len(psap.wait_invites(1)) == 1
        ended = worker.wait_event("e911.call.ended")
        assert (ended["result"], ended["trunk"]) == ("bridged", "psap")
        assert sorting.invites() == []
        # SIPp with -m 1 exits 0 once its one call passed: ACK and BYE received, BYE answered.
        assert psap.proc.wait(10) == 0, "the PSAP trunk's scenario failed (no ACK or BYE)"
