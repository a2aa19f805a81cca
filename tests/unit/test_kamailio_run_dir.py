"""E911_KAMAILIO_RUN_DIR: Kamailio's ctl socket lives there, and a Unix socket path has a hard
length limit: Kamailio 5.6 stops at startup past 104 bytes (`init_unix_sock: name too long
(105 > 104)`) and the front with it; BSD's sun_path takes 103 and a NUL. The settings refuse
such a directory before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from router.commands.kamailio import ctl_socket
from router.settings import UNIX_SOCKET_PATH_MAX_BYTES, load_settings
from router.settings_parsers import SettingsError

ROOT = Path(__file__).resolve().parents[2]


def run_dir_with_socket_path_of(length: int, base: Path) -> Path:
    """A directory under `base` whose ctl socket path is exactly `length` bytes."""
    filler = length - len(str(base.resolve() / "x" / "kamailio.ctl"))
    assert filler >= 0, "base is already too deep"
    return base.resolve() / ("d" * (filler + 1))


def test_the_longest_ctl_socket_path_is_accepted(tmp_path: Path) -> None:
    """A run directory whose socket path is exactly at the limit loads."""
    run_dir = run_dir_with_socket_path_of(UNIX_SOCKET_PATH_MAX_BYTES, tmp_path)
    settings = load_settings({"E911_KAMAILIO_RUN_DIR": str(run_dir)})
    assert len(str(ctl_socket(settings)).encode()) == UNIX_SOCKET_PATH_MAX_BYTES == 103


def test_a_run_dir_one_byte_too_deep_is_refused_naming_the_variable(tmp_path: Path) -> None:
    """One byte more: a SettingsError naming E911_KAMAILIO_RUN_DIR, the socket's length and
    what to do."""
    run_dir = run_dir_with_socket_path_of(UNIX_SOCKET_PATH_MAX_BYTES + 1, tmp_path)
    with pytest.raises(SettingsError) as caught:
        load_settings({"E911_KAMAILIO_RUN_DIR": str(run_dir)})
    assert str(caught.value) == (
        f"E911_KAMAILIO_RUN_DIR={run_dir}: Kamailio's control socket there "
        f"({run_dir}/kamailio.ctl) would be 104 bytes long; a Unix socket path must be at "
        f"most 103: choose a shorter directory (an absolute path such as /run/e911-kamailio)")


def test_without_a_front_the_run_dir_is_not_used_so_not_checked(tmp_path: Path) -> None:
    """E911_FRONT=none starts no Kamailio: a deep run directory is harmless there."""
    run_dir = run_dir_with_socket_path_of(200, tmp_path)
    settings = load_settings({"E911_KAMAILIO_RUN_DIR": str(run_dir), "E911_FRONT": "none"})
    assert settings.kamailio_run_dir == run_dir


def test_config_check_refuses_a_relative_run_dir_deep_under_the_working_directory(
        tmp_path: Path) -> None:
    """The default is relative (var/kamailio): the check measures it from where the router
    starts, as Kamailio would; `config check` exits 2 with the one line."""
    deep = tmp_path.resolve() / ("w" * 110)
    deep.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    done = subprocess.run([sys.executable, "-m", "router", "config", "check"], cwd=deep,
                          env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: E911_KAMAILIO_RUN_DIR=var/kamailio: Kamailio's "
                                  "control socket there"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
