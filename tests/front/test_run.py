"""`e911-router run`: the supervisor starts the front and the workers, restarts a worker that
dies (counted), refuses a taken port with one line, and drains on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from router.metrics import REGISTRY
from router.settings_parsers import HostPort
from router.supervisor import ChildKind, ChildSpec, Supervisor, sip_options_ok
from tests.support.paths import REPO
from tests.support.ports import free_port, free_port_block
from tests.support.processes import wait_until
from tests.support.router_run import requires_kamailio, router_env, running_router
from tests.support.sipp import run_uac, uas_trunks

pytestmark = [pytest.mark.scenario, requires_kamailio]


def test_sigkilled_worker_is_restarted_and_takes_calls_again(
    front_store_url: str, tmp_path: Path
) -> None:
    """SIGKILL worker-1: the supervisor logs its exit, starts it again on the same port, and
    calls through the front keep working."""
    with uas_trunks(tmp_path, "uas-psap-answer") as (outbound,), \
            running_router({"E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_OUTBOUND": outbound.uri}, tmp_path) as router:
        old = router.pid_of("worker-1")
        os.kill(old, signal.SIGKILL)
        exited = router.wait_event("e911.supervisor.child_exited")
        assert (exited["child"], exited["code"]) == ("worker-1", -9)
        restarted = router.wait_event("e911.supervisor.restarted")
        assert (restarted["child"], restarted["restarts"]) == ("worker-1", 1)
        assert router.pid_of("worker-1") != old
        wait_until(lambda: router.worker_answers(router.worker_ports[0]), 20,
                   "the restarted worker answering OPTIONS")
        result = run_uac("uac-911-expect-200", router.sip_port, tmp_path, service="4065550123")
        assert result.ok, result.errors
        assert len(outbound.wait_invites(1)) == 1


def test_worker_restart_is_counted_in_the_restarts_metric(tmp_path: Path) -> None:
    """e911_worker_restarts_total goes up by one for each worker the supervisor restarts."""
    port = free_port()
    env = (("E911_SIP_LISTEN", f"127.0.0.1:{port}"), ("E911_WORKERS", "1"),
           ("E911_FRONT", "none"), ("E911_DATABASE_URL", f"sqlite:///{tmp_path / 'e.db'}"),
           ("E911_LOG_FORMAT", "json"))
    spec = ChildSpec("worker-1", (sys.executable, "-m", "router", "worker"), ChildKind.WORKER,
                     env=env, sip_probe=HostPort("127.0.0.1", port))
    ready = threading.Event()
    supervisor = Supervisor([spec], install_signals=False, on_ready=ready.set)
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(supervisor.run()))
    before = REGISTRY.get_sample_value("e911_worker_restarts_total") or 0.0
    thread.start()
    try:
        assert ready.wait(60)
        first = supervisor.pid_of("worker-1")
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: (REGISTRY.get_sample_value("e911_worker_restarts_total") or 0.0)
                   == before + 1, 20, "the restart counted")
        # As long as the first start may take (60 s above): a loaded CI machine starts a
        # worker in seconds, but 20 s was once not enough.
        wait_until(lambda: sip_options_ok(HostPort("127.0.0.1", port)), 60,
                   "the new worker answering")
        assert supervisor.pid_of("worker-1") not in (None, first)
    finally:
        supervisor.request_stop()
        thread.join(30)
    assert codes == [0]


def test_taken_port_stops_startup_with_exit_2_and_one_line(tmp_path: Path) -> None:
    """A worker port already bound elsewhere: one error line naming it, exit 2, nothing
    started."""
    sip_port, worker_port = free_port(), free_port_block(2)
    env = router_env({}, tmp_path, sip_port=sip_port, worker_port=worker_port, workers=2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", worker_port + 1))
        proc = subprocess.run([sys.executable, "-m", "router", "run"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: E911_WORKER_LISTEN (worker 2 on 127.0.0.1:{worker_port + 1}): UDP port "
        f"127.0.0.1:{worker_port + 1} in use; stop the other process or choose another address"]
    assert not (tmp_path / "kamailio-127.0.0.1" / "kamailio.cfg").exists()


def test_taken_front_port_names_e911_sip_listen(tmp_path: Path) -> None:
    """Kamailio's own port taken: the message names E911_SIP_LISTEN."""
    sip_port, worker_port = free_port(), free_port_block(2)
    env = router_env({}, tmp_path, sip_port=sip_port, worker_port=worker_port, workers=2)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", sip_port))
        squatter.listen()
        proc = subprocess.run([sys.executable, "-m", "router", "run"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: E911_SIP_LISTEN=127.0.0.1:{sip_port} (Kamailio): TCP port "
        f"127.0.0.1:{sip_port} in use; stop the other process or choose another address"]


def test_sigterm_drains_every_child_and_frees_every_port(
    front_store_url: str, tmp_path: Path
) -> None:
    """SIGTERM: the front stops first, then the workers; exit 0 and no port left bound."""
    with running_router({"E911_DATABASE_URL": front_store_url}, tmp_path) as router:
        ports = [router.sip_port, *router.worker_ports]
        code = router.stop()
        stopped_children = [(e["child"], e["code"]) for e in router.events
                            if e.get("event") == "e911.supervisor.child_stopped"]
        assert code == 0, stopped_children
        stopped = router.wait_event("e911.supervisor.stopped")
        assert stopped["code"] == 0
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", port))
