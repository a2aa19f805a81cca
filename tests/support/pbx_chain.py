"""The reference PBX (deploy/pbx/) run for real on loopback, and softphones registering with it.

The PBX is a Kamailio at 127.0.0.2 rendered by deploy/pbx/render.py (the same code an operator
runs); softphones are baresip (tests/support/baresip.py) registering with digest credentials.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from router.settings_parsers import HostPort
from router.supervisor import sip_options_ok
from tests.support.baresip import Baresip
from tests.support.paths import REPO
from tests.support.ports import free_port
from tests.support.processes import wait_until

PBX = "127.0.0.2"
USERS = {"3003": "desk-3003-secret", "1001": "ada-1001-secret"}
FIRST_DEVICE = "127.0.0.11"
"""Where desk phone 3003's softphone first registers from (its address is bound there too)."""
SECOND_DEVICE = "127.0.0.12"


def render_module() -> ModuleType:
    """deploy/pbx/render.py (a standalone script, not a package module)."""
    name = "deploy_pbx_render"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "deploy" / "pbx" / "render.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses resolve their module by name
        spec.loader.exec_module(module)
    return sys.modules[name]


@contextmanager
def kamailio_pbx(workdir: Path, router_port: int, carrier_port: int) -> Iterator[int]:
    """The reference PBX on 127.0.0.2 in front of the router; its port. Ended by its PID."""
    render = render_module()
    port = free_port(PBX)
    settings = render.PbxSettings(listen=f"{PBX}:{port}", router=f"127.0.0.1:{router_port}",
                                  carrier=f"127.0.0.1:{carrier_port}")
    users = render.read_users("\n".join(f"{u} {p}" for u, p in USERS.items()))
    cfg = render.prepare(settings, users, workdir)
    (workdir / "run").mkdir()
    with kamailio_running(cfg, workdir / "run", workdir / "pbx.log", port):
        yield port


@contextmanager
def kamailio_running(cfg: Path, run_dir: Path, log: Path, port: int) -> Iterator[None]:
    """Kamailio with `cfg` (a PBX on 127.0.0.2:`port`) until it answers OPTIONS; ended by its
    PID (its own process group: the main process and its children)."""
    with log.open("w") as stderr:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(["kamailio", "-f", str(cfg), "-DD", "-E", "-m", "64", "-M",
                                 "8", "-Y", str(run_dir)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stderr,
                                start_new_session=True)
    try:
        wait_until(lambda: sip_options_ok(HostPort(PBX, port)) or proc.poll() is not None,
                   20, "the PBX answering")
        assert proc.poll() is None, log.read_text()[-2000:]
        yield
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def softphone(workdir: Path, user: str, address: str, pbx_port: int, *,
              password: str | None = None, expect: str = " 200 OK ") -> Baresip:
    """baresip on `address` registering (digest) with the PBX as `user`, once the PBX's final
    answer to its REGISTER contains `expect`."""
    account = (f"<sip:{user}@{PBX}:{pbx_port}>;auth_pass={password or USERS[user]};"
               "regint=600")
    phone = Baresip.start(workdir, user, address=address, account=account)
    try:
        # it registers before the ctrl_tcp connection is up: its REGISTER_OK event is not
        # sent there, its console line is
        wait_until(lambda: any(f"{user}@{PBX}:" in line and expect in line
                               for line in phone.output), 15, f"{user}'s REGISTER: {expect}")
    except AssertionError:
        phone.stop()
        output = "\n".join(phone.output[-20:])
        raise AssertionError(f"baresip did not register:\n{output}") from None
    return phone


def calls_closed(phone: Baresip, count: int, timeout: float = 40) -> dict[str, object]:
    """The `count`-th CALL_CLOSED event of `phone`."""
    def closed() -> list[dict[str, object]]:
        return [e for e in phone.events if e.get("type") == "CALL_CLOSED"]

    wait_until(lambda: len(closed()) >= count, timeout, f"baresip's call {count} closed")
    return closed()[count - 1]


def answered_call(phone: Baresip, uri: str, number: int) -> dict[str, object]:
    """Dial `uri`, wait until the far end answers, hang up; the `number`-th CALL_CLOSED."""
    phone.command("dial", uri)
    wait_until(lambda: sum(e.get("type") == "CALL_ESTABLISHED" for e in phone.events) >= number,
               30, f"baresip's call {number} answered")
    phone.command("hangup")
    return calls_closed(phone, number)
