"""The host endpoint's merge: children's multiprocess files summed, host-owned names only from
the supervisor's memory, a dead child's live gauges dropped and its counters kept."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from router.metrics import MULTIPROC_ENV, STORE_UP, WORKER_RESTARTS
from router.metrics_server import HostObservability, prepare_multiproc_dir

CHILD = """
from router.metrics import CALLS, CALL_SLOTS, STORE_UP
CALLS.labels(call_class="emergency", outcome="routed_psap").inc({calls})
CALL_SLOTS.labels(worker="{worker}", state="in_use").set(1)
STORE_UP.set(7)  # a child must never be able to set a host-owned metric
print(__import__("os").getpid())
"""


def _child(directory: Path, worker: str, calls: int) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env[MULTIPROC_ENV] = str(directory)
    done = subprocess.run([sys.executable, "-c", CHILD.format(worker=worker, calls=calls)],
                          env=env, capture_output=True, text=True, check=True, timeout=60)
    return int(done.stdout)


def _scrape(host: HostObservability) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    address, port = host.address
    with urllib.request.urlopen(f"http://{address}:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_two_children_are_summed_and_a_dead_ones_gauges_dropped(tmp_path: Path) -> None:
    """2 + 3 calls from two processes read 5; after the first one is marked dead its slot gauge
    is gone and its calls still count; e911_store_up is the host's value, not the child's 7."""
    directory = prepare_multiproc_dir(tmp_path / "metrics")
    first = _child(directory, "5081", 2)
    _child(directory, "5082", 3)
    host = HostObservability(listen=("127.0.0.1", 0), multiproc_dir=directory, engine=None,
                             prober=None)
    host.start()
    try:
        STORE_UP.set(1)
        restarts = WORKER_RESTARTS._value.get()
        seen = _scrape(host)
        calls = ("e911_calls_total", (("call_class", "emergency"), ("outcome", "routed_psap")))
        assert seen[calls] == 5
        assert seen[("e911_call_slots", (("state", "in_use"), ("worker", "5081")))] == 1
        assert seen[("e911_call_slots", (("state", "in_use"), ("worker", "5082")))] == 1
        assert seen[("e911_store_up", ())] == 1
        assert seen[("e911_worker_restarts_total", ())] == restarts
        assert [k for k in seen if k[0] == "e911_store_up"] == [("e911_store_up", ())]
        host.child_exited(first)
        after = _scrape(host)
        assert after[calls] == 5
        assert ("e911_call_slots", (("state", "in_use"), ("worker", "5081"))) not in after
        assert after[("e911_call_slots", (("state", "in_use"), ("worker", "5082")))] == 1
    finally:
        host.stop()


def test_prepare_empties_an_earlier_runs_files(tmp_path: Path) -> None:
    """Files left by a previous run (its processes are gone) do not count again."""
    directory = prepare_multiproc_dir(tmp_path / "metrics")
    (directory / "counter_999999.db").write_bytes(b"stale")
    assert list(prepare_multiproc_dir(directory).iterdir()) == []
