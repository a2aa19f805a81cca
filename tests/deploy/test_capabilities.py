"""The unit's only privilege, CAP_NET_BIND_SERVICE as an ambient capability, reaches the
Kamailio that `e911-router run` starts; nothing else is needed to run.

Port 5060 is above 1023 (`net.ipv4.ip_unprivileged_port_start` is 1024): binding it needs no
capability at all. The capability matters only for a listener below 1024 (SIP or the API on
a well-known port): these tests bind SIP on 506 to exercise it, in a network namespace of
their own.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.paths import REPO

pytestmark = pytest.mark.slow


def probe(*args: str) -> dict[str, object]:
    done = subprocess.run(["unshare", "-n", sys.executable, "-m",
                           "tests.deploy.capability_probe", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_router_without_root_binds_below_1024_with_the_ambient_capability() -> None:
    """No root privilege but the ambient CAP_NET_BIND_SERVICE: the router starts, Kamailio
    (its child) answers OPTIONS on port 506 holding exactly that capability (bit 10), and the
    store, spools and metrics land in the working directory's var/."""
    result = probe()
    assert result["ready"] is True
    assert result["options"] is True
    assert result["kamailio_capeff"] == "0000000000000400"
    assert {"var/e911.db", "var/metrics"} <= set(result["files"])  # type: ignore[arg-type]


def test_router_without_the_capability_refuses_a_port_below_1024() -> None:
    """The same start with no capability stops at the port check: exit 2, one line naming
    E911_SIP_LISTEN and "Permission denied" (so the test above can fail)."""
    result = probe("--no-capability")
    assert result["ready"] is False
    assert result["exit_code"] == 2
    assert result["error_lines"] == [
        "error: E911_SIP_LISTEN=127.0.0.1:506 (Kamailio): UDP port 127.0.0.1:506 Permission "
        "denied; stop the other process or choose another address"]
