"""The production units in deploy/systemd/ as systemd itself reads them.

`systemd-analyze verify` needs no running systemd (PID 1): pointed at a temporary root
(`--root`) holding systemd's own units, an unchanged copy of ours and an executable at each
path our Exec lines name, it parses every directive (an unknown key or a bad value is a
warning on stderr, which these tests refuse even though the exit code stays 0), checks that
the units we depend on exist and that the commands are executable files. It does not start
anything: the hardening is checked statically (`systemd-analyze security --offline`).
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SERVICE = UNITS / "e911-router.service"
SYSTEMD_UNITS = Path("/usr/lib/systemd/system")


def systemd_tool(name: str) -> str:
    """The path of a systemd tool, installing Debian's `systemd` package when it is missing."""
    found = shutil.which(name)
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "systemd"], check=True,
                       capture_output=True, timeout=600)
        found = shutil.which(name)
    assert found, f"{name} is missing and `apt-get install systemd` did not provide it"
    return found


def exec_paths(unit_text: str) -> list[str]:
    """Absolute executables named by Exec* lines (after systemd's '-', '@', '+' prefixes)."""
    paths = []
    for match in re.finditer(r"^Exec\w+=[-@:+!]*(\S+)", unit_text, re.MULTILINE):
        paths.append(match.group(1))
    return paths


def make_root(tmp_path: Path, unit_text: str) -> Path:
    """A root with systemd's units, our unit and a stub at each Exec path."""
    root = tmp_path / "root"
    shutil.copytree(SYSTEMD_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system" / SERVICE.name).write_text(unit_text)
    for path in exec_paths(unit_text):
        stub = root / path.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    return root


def verify(tmp_path: Path, unit_text: str) -> subprocess.CompletedProcess[str]:
    root = make_root(tmp_path, unit_text)
    return subprocess.run([systemd_tool("systemd-analyze"), "verify", f"--root={root}",
                           SERVICE.name], capture_output=True, text=True, timeout=120,
                          check=False)


def directives(unit_text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit_text)
    return {section: dict(parser[section]) for section in parser.sections()}


def test_service_unit_verifies_with_no_warning(tmp_path: Path) -> None:
    """systemd-analyze verify accepts e911-router.service: exit 0 and nothing on stderr."""
    done = verify(tmp_path, SERVICE.read_text())
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        pytest.param("ProtectSystem=strict", "ProtectSystem=stricter",
                     "Failed to parse protect system value", id="bad-value"),
        pytest.param("NoNewPrivileges=yes", "NoNewPrivilege=yes",
                     "Unknown key 'NoNewPrivilege' in section [Service]", id="misspelt-key"),
        pytest.param("Wants=network-online.target", "Wants=network-online.target\n"
                     "Requires=no-such-thing.service", "no-such-thing.service",
                     id="missing-dependency"),
    ],
)
def test_verify_would_catch_a_broken_unit(tmp_path: Path, old: str, new: str,
                                          complaint: str) -> None:
    """The check above can fail: a bad value, a misspelt key or a missing unit is reported."""
    text = SERVICE.read_text()
    assert old in text
    done = verify(tmp_path, text.replace(old, new))
    assert complaint in done.stderr


def test_verify_would_catch_a_missing_executable(tmp_path: Path) -> None:
    """A unit whose ExecStart file is absent fails verify (what a wrong install path gives)."""
    root = make_root(tmp_path, SERVICE.read_text())
    (root / "opt/e911-router/.venv/bin/e911-router").unlink()
    done = subprocess.run([systemd_tool("systemd-analyze"), "verify", f"--root={root}",
                           SERVICE.name], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode != 0
    assert "/opt/e911-router/.venv/bin/e911-router is not executable" in done.stderr


def test_service_runs_the_supervisor_with_the_settings_file_as_its_own_user() -> None:
    """One unit: `e911-router run` as user e911-router, settings from /etc/e911-router/e911.env,
    checked before start, restarted always, logging to journald."""
    service = directives(SERVICE.read_text())["Service"]
    assert service["ExecStart"] == "/opt/e911-router/.venv/bin/e911-router run"
    assert service["ExecStartPre"] == "/opt/e911-router/.venv/bin/e911-router config check"
    assert service["EnvironmentFile"] == "/etc/e911-router/e911.env"
    assert (service["User"], service["Group"]) == ("e911-router", "e911-router")
    assert (service["Restart"], service["KillMode"]) == ("always", "mixed")
    assert (service["StandardOutput"], service["StandardError"]) == ("journal", "journal")
    assert directives(SERVICE.read_text())["Unit"]["StartLimitIntervalSec"] == "0"


def test_service_is_hardened_and_binds_5060_without_root() -> None:
    """NoNewPrivileges, a read-only system but for the state and runtime directories, a
    private /tmp, and CAP_NET_BIND_SERVICE as the only capability."""
    service = directives(SERVICE.read_text())["Service"]
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ProtectHome"] == "yes"
    assert service["PrivateTmp"] == "yes"
    assert service["StateDirectory"] == "e911-router"
    assert service["RuntimeDirectory"] == "e911-router"
    assert service["WorkingDirectory"] == "/var/lib/e911-router"
    assert service["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"
    assert service["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE"


def test_security_exposure_is_at_most_3_5(tmp_path: Path) -> None:
    """systemd-analyze security (offline) rates the unit 3.5 or better ("OK")."""
    root = make_root(tmp_path, SERVICE.read_text())
    done = subprocess.run([systemd_tool("systemd-analyze"), "security", "--offline=yes",
                           f"--root={root}", "--threshold=35", "--no-pager", SERVICE.name],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-400:]
    assert re.search(r"Overall exposure level for e911-router.service: 3\.[0-5] OK", done.stdout)


def test_sysusers_file_creates_a_system_user_without_login(tmp_path: Path) -> None:
    """systemd-sysusers, run on a temporary root, creates e911-router as a system user (UID
    below 1000) with the state directory as home and no login shell."""
    (tmp_path / "etc").mkdir()
    subprocess.run([systemd_tool("systemd-sysusers"), f"--root={tmp_path}",
                    str(UNITS / "e911-router.sysusers")], check=True, capture_output=True,
                   timeout=60)
    (line,) = [entry for entry in (tmp_path / "etc/passwd").read_text().splitlines()
               if entry.startswith("e911-router:")]
    _, _, uid, _, _, home, shell = line.split(":")
    assert int(uid) < 1000
    assert (home, shell) == ("/var/lib/e911-router", "/usr/sbin/nologin")


def test_production_settings_file_passes_config_check() -> None:
    """deploy/e911.env, the template for /etc/e911-router/e911.env, is accepted as is."""
    done = subprocess.run([sys.executable, "-m", "router", "config", "check", "--env-file",
                           str(ROOT / "deploy" / "e911.env")], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "configuration OK\n", "")


def test_production_settings_file_is_plain_key_value_for_systemd() -> None:
    """systemd's EnvironmentFile= and python-dotenv read the same values: every line is a
    comment, blank, or KEY=VALUE without quotes or spaces around '='."""
    for number, line in enumerate((ROOT / "deploy" / "e911.env").read_text().splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"E911_[A-Z0-9_]+=[^\s\"']*", line), f"line {number}: {line}"
