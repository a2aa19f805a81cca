"""Run inside a fresh network namespace (`unshare -n python -m tests.deploy.capability_probe`):
start `e911-router run` as systemd would without root, with no capability but
CAP_NET_BIND_SERVICE (ambient), SIP on a port below 1024, and print one JSON line: whether it
started, whether Kamailio answered OPTIONS there, Kamailio's effective capabilities, and the
router's first error line. `--no-capability` starts it with no capability at all.

`setpriv --securebits=+noroot...` makes uid 0 hold no capability across exec (the kernel's
"noroot" mode: capabilities come only from the ambient set), which is what a service user
has under `AmbientCapabilities=CAP_NET_BIND_SERVICE`; the venv's interpreter lives under
/root, which another user could not run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from router.settings_parsers import HostPort
from router.supervisor import sip_options_ok
from tests.support.paths import PROMPTS, REPO
from tests.support.processes import wait_until
from tests.support.router_run import RouterRun

PRIVILEGED_PORT = 506
NOROOT = "+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked"


def setpriv(capability: bool) -> list[str]:
    caps = "-all,+net_bind_service" if capability else "-all"
    return ["setpriv", f"--securebits={NOROOT}", f"--inh-caps={caps}",
            f"--ambient-caps={caps}", f"--bounding-set={caps}"]


def main() -> int:
    capability = "--no-capability" not in sys.argv
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    state = Path(tempfile.mkdtemp(prefix="e911-state-"))
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "E911_SIP_LISTEN": f"127.0.0.1:{PRIVILEGED_PORT}",
        "E911_WORKER_LISTEN": "127.0.0.1:5081",
        "E911_WORKERS": "1",
        "E911_KAMAILIO_RUN_DIR": str(state / "run"),
        "E911_PROMPTS_DIR": str(PROMPTS),
        "E911_LOG_FORMAT": "json",
        "E911_SMTP_URL": "smtp://127.0.0.1:8025",
    }
    # Relative paths (var/e911.db, var/spool, var/metrics) land in the state directory, as
    # under WorkingDirectory=/var/lib/e911-router.
    argv = [*setpriv(capability), sys.executable, "-m", "router", "run",
            "--trunk-probe-seconds", "0"]
    proc = subprocess.Popen(argv, cwd=state, env={**env, "PYTHONPATH": str(REPO)},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    run = RouterRun(proc, PRIVILEGED_PORT, [5081])
    threading.Thread(target=run._read, daemon=True).start()
    result: dict[str, object] = {"ready": False, "options": False, "kamailio_capeff": None}
    try:
        run.wait_event("e911.supervisor.ready", timeout=150)
        result["ready"] = True
        wait_until(lambda: sip_options_ok(HostPort("127.0.0.1", PRIVILEGED_PORT)), 20,
                   "Kamailio answering OPTIONS")
        result["options"] = True
        status = Path(f"/proc/{run.pid_of('kamailio')}/status").read_text()
        result["kamailio_capeff"] = next(line.split()[1] for line in status.splitlines()
                                         if line.startswith("CapEff:"))
    except AssertionError:
        pass
    finally:
        result["exit_code"] = run.stop()
        result["error_lines"] = [line for line in run.lines if line.startswith("error:")]
        result["files"] = sorted(str(p.relative_to(state)) for p in (state / "var").iterdir()
                                 ) if (state / "var").exists() else []
        shutil.rmtree(state, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
