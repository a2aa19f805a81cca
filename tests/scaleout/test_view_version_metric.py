"""`e911_location_view_version`: the change_seq each worker's location view has applied, as the
host endpoint serves it: one series per running worker, named by the supervisor's child name;
the API's and the sender's copies of the gauge (they hold no view) are not served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from router.metrics import MULTIPROC_ENV
from router.metrics_server import HostObservability, prepare_multiproc_dir
from router.supervisor import ChildStatus

WORKER = """
import os, sys
from router.location.model import DEFAULT_ACCOUNT_ID
from router.store.store import open_store
from router.location.view import LocationView
from router.metrics import LOCATION_VIEW_VERSION
store = open_store(sys.argv[1])
store.upsert_user(DEFAULT_ACCOUNT_ID, "1001", display_name="Ada")
view = LocationView(store, on_version=LOCATION_VIEW_VERSION.set)
view.refresh()
print(os.getpid(), view.seq, store.change_seq())
"""
SERVICE = """
import os
import router.metrics
print(os.getpid())
"""


def _run(directory: Path, code: str, *args: str) -> list[int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env[MULTIPROC_ENV] = str(directory)
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, check=True, timeout=120)
    # The store logs its migrations on stdout: the answer is the last line.
    return [int(x) for x in done.stdout.splitlines()[-1].split()]


def _get(host: HostObservability, path: str) -> str:
    address, port = host.address
    with urllib.request.urlopen(f"http://{address}:{port}{path}", timeout=5) as response:
        text: str = response.read().decode()
        return text


def test_view_version_is_served_per_worker_and_only_for_workers(tmp_path: Path) -> None:
    """A worker whose view applied change_seq N reads N under worker="worker-1"; the API
    process's 0 is not served; /status.json lists the same."""
    directory = prepare_multiproc_dir(tmp_path / "metrics")
    worker_pid, view_seq, store_seq = _run(directory, WORKER,
                                           f"sqlite:///{tmp_path}/e911.db")
    (api_pid,) = _run(directory, SERVICE)
    assert view_seq == store_seq and view_seq > 0
    children = [ChildStatus("worker-1", "worker", worker_pid, True, 1.0, 0, None),
                ChildStatus("api", "service", api_pid, True, 1.0, 0, None)]
    host = HostObservability(listen=("127.0.0.1", 0), multiproc_dir=directory, engine=None,
                             prober=None, children=lambda: children)
    host.start()
    try:
        served = [(s.name, s.labels, s.value)
                  for f in text_string_to_metric_families(_get(host, "/metrics"))
                  for s in f.samples if s.name == "e911_location_view_version"]
        assert served == [("e911_location_view_version", {"worker": "worker-1"},
                           float(view_seq))]
        views = json.loads(_get(host, "/status.json"))["location_views"]
        assert views == {"store_change_seq": None,
                         "workers": [{"worker": "worker-1", "change_seq": view_seq}]}
    finally:
        host.stop()


def test_status_screen_shows_each_workers_view_and_how_far_behind() -> None:
    """`e911-router status`: the store's change_seq, then each worker's, with its lag."""
    from datetime import UTC, datetime

    from router.commands.status import render

    status = {
        "version": "0.1.0", "uptime_seconds": 60.0, "calls_window_seconds": 60.0,
        "children": [], "slots": {}, "trunks": [], "calls_last_hour": [],
        "notifications": {"store_up": True, "deliveries": {}, "oldest_pending_seconds": 0.0,
                          "checked_at": ""},
        "location_views": {"store_change_seq": 42, "workers": [
            {"worker": "worker-1", "change_seq": 42}, {"worker": "worker-2", "change_seq": 40}]},
    }
    lines = render(status, {}, "http://x", datetime(2026, 11, 23, tzinfo=UTC)).splitlines()
    start = lines.index("LOCATION VIEWS (store change_seq 42)")
    assert lines[start + 1:start + 3] == ["  worker-1        change_seq 42",
                                          "  worker-2        change_seq 40   2 behind"]
