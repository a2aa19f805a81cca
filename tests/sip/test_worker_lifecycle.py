"""The worker process: starts, drains on SIGTERM with a call up, exits 0, frees its port."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from tests.support.ports import udp_port_taken
from tests.support.sipp import run_uac, uas_trunks
from tests.support.worker import WorkerFactory

pytestmark = [pytest.mark.sip]


def test_sigterm_with_a_ringing_911_hangs_up_and_exits_0(
    worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """SIGTERM while a 911 rings at the PSAP: the trunk leg is cancelled, the worker exits 0
    within a few seconds and its port is free again."""
    with uas_trunks(tmp_path, "uas-trunk-ring") as (psap,):
        worker = worker_factory(E911_TRUNK_PSAP=psap.uri)
        caller = threading.Thread(target=run_uac, args=(
            "uac-911-expect-200", worker.port, tmp_path), kwargs={"service": "911",
                                                                  "timeout": 20})
        caller.start()
        psap.wait_invites(1)
        worker.wait_event("e911.bridge.state", where=lambda e: e["new"] == "ringing")
        started = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(10) == 0
        assert time.monotonic() - started < 5
        stopping = worker.wait_event("e911.worker.stopping")
        assert stopping["legs"] == 2
        assert psap.proc.wait(10) == 0  # it got its CANCEL and sent 487
        assert not udp_port_taken(worker.port)
        caller.join(30)
