"""`e911-router run`'s plan: each worker's own settings, the children, the ports checked."""

from __future__ import annotations

import socket

import pytest

from router.commands.run import check_ports, kamailio_child, worker_children, worker_environment
from router.kamailio.front import front_config
from router.settings import load_settings
from router.settings_parsers import HostPort
from router.supervisor import ChildKind, PortTaken


def test_worker_behind_the_front_trusts_only_the_front() -> None:
    """Behind Kamailio a worker is told its own address, that it has no front of its own, and
    that only the front may send it INVITEs (and the device-IP header)."""
    s = load_settings({"E911_SIP_LISTEN": "127.0.0.2:5060", "E911_TRUSTED_PEERS": "10.0.0.0/8"})
    assert dict(worker_environment(s, HostPort("127.0.0.1", 5082))) == {
        "E911_SIP_LISTEN": "127.0.0.1:5082", "E911_WORKERS": "1", "E911_FRONT": "none",
        "E911_TRUSTED_PEERS": "127.0.0.2/32", "E911_PBX_PEERS": "127.0.0.2/32",
        "E911_DEVICE_IP_REQUIRED": "yes", "E911_ANNOUNCE_PATH": "worker"}


def test_worker_without_a_front_keeps_the_trusted_peers() -> None:
    """E911_FRONT=none: workers take INVITEs from the configured peers themselves."""
    s = load_settings({"E911_FRONT": "none", "E911_SIP_LISTEN": "127.0.0.1:5060"})
    assert dict(worker_environment(s, HostPort("127.0.0.1", 5061))) == {
        "E911_SIP_LISTEN": "127.0.0.1:5061", "E911_WORKERS": "1", "E911_FRONT": "none",
        "E911_ANNOUNCE_PATH": "worker"}


def test_workers_hand_announcements_to_the_front_only_when_it_plays_them() -> None:
    """E911_ANNOUNCE_PATH=front reaches the workers only with a Kamailio front in early mode
    (issue 16); without a front, or in answer mode, the workers play the prompt."""
    address = HostPort("127.0.0.1", 5082)

    def path(**values: str) -> str:
        env = dict(worker_environment(load_settings({"E911_ANNOUNCE_PATH": "front",
                                                     **values}), address))
        return env["E911_ANNOUNCE_PATH"]

    assert path() == "front"
    assert path(E911_FRONT="none") == "worker"
    assert path(E911_ANNOUNCE_MODE="answer") == "worker"


def test_one_child_per_worker_each_probed_on_its_port() -> None:
    """E911_WORKERS=3: worker-1..3 on consecutive ports, ready when OPTIONS is answered."""
    s = load_settings({"E911_WORKERS": "3", "E911_WORKER_LISTEN": "127.0.0.1:7001"})
    children = worker_children(s, None)
    assert [(c.name, c.kind, c.sip_probe) for c in children] == [
        ("worker-1", ChildKind.WORKER, HostPort("127.0.0.1", 7001)),
        ("worker-2", ChildKind.WORKER, HostPort("127.0.0.1", 7002)),
        ("worker-3", ChildKind.WORKER, HostPort("127.0.0.1", 7003))]
    assert children[0].argv[-1] == "worker"


def test_kamailio_runs_in_the_foreground_with_the_configured_memory() -> None:
    """-DD (foreground), -E (stderr), -m/-M from the settings, its own process group."""
    from pathlib import Path

    s = load_settings({"E911_KAMAILIO_SHM_MB": "1024"})
    child = kamailio_child(s, front_config(s, Path("/run/x")), "/usr/sbin/kamailio")
    assert child.argv == ("/usr/sbin/kamailio", "-DD", "-E", "-f", "/run/x/kamailio.cfg",
                          "-m", "1024", "-M", "16", "-Y", "/run/x")
    assert (child.kind, child.own_group) == (ChildKind.FRONT, True)
    assert child.env == ()
    # Issue 19: Kamailio's Python reads the same settings file as the workers.
    with_file = kamailio_child(s, front_config(s, Path("/run/x")), "/usr/sbin/kamailio",
                               "/etc/e911.env")
    assert with_file.env == (("E911_ENV_FILE", "/etc/e911.env"),)


def test_a_taken_worker_port_is_named() -> None:
    """check_ports names the setting and the worker whose port is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spare:
        squatter.bind(("127.0.0.1", 0))
        spare.bind(("127.0.0.1", 0))
        port, front = squatter.getsockname()[1], spare.getsockname()[1]
        spare.close()
        s = load_settings({"E911_WORKER_LISTEN": f"127.0.0.1:{port - 1}",
                           "E911_SIP_LISTEN": f"127.0.0.1:{front}",
                           "E911_SIP_TRANSPORTS": "udp"})
        with pytest.raises(PortTaken) as info:
            check_ports(s, has_api=False)
    assert str(info.value).startswith(f"E911_WORKER_LISTEN (worker 2 on 127.0.0.1:{port}): "
                                      f"UDP port 127.0.0.1:{port} in use")
