"""The `e911-router` command itself: version, help, and a light start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from router import __version__

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})


def test_version_prints_the_package_version() -> None:
    """`e911-router --version` names the installed distribution's version."""
    proc = _run("--version")
    assert proc.returncode == 0
    assert proc.stdout == f"e911-router {__version__}\n"


def test_no_command_prints_help_and_exits_2() -> None:
    """Without a command the usage goes to stderr and the exit code says bad input."""
    proc = _run()
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: e911-router")


def test_building_the_cli_does_not_load_pjsua2() -> None:
    """Only the worker pays for pjsua2: `dialplan classify` and friends start light."""
    code = ("import sys, router.cli; router.cli.build_parser(); "
            "print('pjsua2' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "False\n"
