"""`e911-router api` as operators run it: a process serving E911_API_LISTEN."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.api_process import start_api
from tests.support.api_server import ADMIN_TOKEN
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_api_command_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The command migrates the store, answers /health and bearer-checked /v1, and on
    SIGTERM shuts down cleanly (the lifespan's stop runs), then ends by that signal as
    uvicorn re-raises it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env.update({
        "E911_DATABASE_URL": f"sqlite:///{tmp_path}/var/e911.db",
        "E911_API_LISTEN": f"127.0.0.1:{port}",
        "E911_ADMIN_TOKENS": ADMIN_TOKEN,
        "E911_LOG_FORMAT": "json",
    })
    process, seen = start_api(env, tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/health").json() == {
            "status": "ok", "database": True, "msag_version": None}
        assert httpx.get(f"{base}/v1/account/emergency-settings").status_code == 401
        settings = httpx.get(f"{base}/v1/account/emergency-settings",
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert settings.status_code == 200
        assert settings.json()["enabled"] is False
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    assert process.stdout is not None
    seen += process.stdout.readlines()
    assert code == -signal.SIGTERM
    assert any('"event": "e911.api.started"' in line for line in seen)
    assert any('"event": "e911.api.stopped"' in line for line in seen)


def test_api_command_refuses_a_bad_setting(tmp_path: Path) -> None:
    """A bad E911_API_LISTEN stops the command with exit 2 and one line naming it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env["E911_API_LISTEN"] = "127.0.0.1:99999"
    done = subprocess.run([sys.executable, "-m", "router", "api"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: E911_API_LISTEN='127.0.0.1:99999': port must be between 1 and 65535"]
