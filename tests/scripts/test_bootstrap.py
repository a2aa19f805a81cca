"""scripts/lib/bootstrap.sh: what the scripts install, how apt is called (the dpkg lock is
waited for), and that a failure ends with one line saying what failed and what to do. The
functions run in a real bash; apt-get and dpkg-query are stand-ins on PATH that record their
arguments (the logic under test is the script's, and no package is installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "scripts" / "lib" / "bootstrap.sh"
# The programs the suite runs (shutil.which / subprocess in tests/) and the scripts use.
TOOLS_THE_TESTS_RUN = ("sipp", "kamailio", "kamcmd", "promtool", "baresip", "sox", "openssl")


def bash(script: str, tmp_path: Path, path_first: Path | None = None
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "E911_BOOTSTRAP_LOG": str(tmp_path / "bootstrap.log")}
    if path_first is not None:
        env["PATH"] = f"{path_first}:{env['PATH']}"
    return subprocess.run(["bash", "-c", f'source "{BOOTSTRAP}"; {script}'], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def packages(name: str, tmp_path: Path) -> list[str]:
    return bash(f'echo "${{{name}[@]}}"', tmp_path).stdout.split()


def test_a_failing_step_ends_with_one_line_saying_what_failed_and_what_to_do(
        tmp_path: Path) -> None:
    """The step's own output is shown from the log, then the FAILED line; exit 1."""
    done = bash('run_logged "frobbing the widget" "run: widget --unfrob" '
                'sh -c "echo widget: jammed >&2; exit 3"', tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[-2:] == [
        "  | widget: jammed",
        f"[bootstrap] FAILED: frobbing the widget. run: widget --unfrob (whole output: "
        f"{tmp_path / 'bootstrap.log'})"]
    assert "widget: jammed" in (tmp_path / "bootstrap.log").read_text()


def test_apt_waits_for_the_dpkg_lock_and_installs_only_what_is_missing(tmp_path: Path) -> None:
    """Two packages asked, one installed: update once, then install the missing one, both
    with DPkg::Lock::Timeout=600, each announced on stderr."""
    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    calls = tmp_path / "calls"
    (stand_ins / "apt-get").write_text(f'#!/bin/sh\necho "apt-get $*" >> "{calls}"\n')
    (stand_ins / "dpkg-query").write_text(
        '#!/bin/sh\n[ "$3" = have-it ] && printf "install ok installed"\nexit 0\n')
    for tool in stand_ins.iterdir():
        tool.chmod(0o755)
    done = bash("apt_packages have-it want-it; apt_packages want-2", tmp_path, stand_ins)
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == [
        "apt-get -o DPkg::Lock::Timeout=600 update -q",
        "apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends want-it",
        "apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends want-2",
    ]
    assert done.stderr.splitlines() == [
        "[bootstrap] apt-get update (waits up to 10 min if another apt or dpkg run holds "
        "the lock)",
        "[bootstrap] installing Debian packages: want-it (waits up to 10 min for the dpkg lock)",
        "[bootstrap] installing Debian packages: want-2 (waits up to 10 min for the dpkg lock)",
    ]


def test_scripts_run_installs_a_subset_of_what_scripts_test_installs(tmp_path: Path) -> None:
    """The quick start's packages are the suite's too (one list each, in bootstrap.sh)."""
    run, test = packages("RUN_PACKAGES", tmp_path), packages("TEST_PACKAGES", tmp_path)
    assert run == ["python3.11-venv", "sip-tester", "kamailio", "kamailio-utils-modules",
                   "rtpengine-daemon", "kamailio-python3-modules"]
    assert set(run) <= set(test)
    assert "postgresql" in test


def test_every_tool_the_tests_run_comes_from_a_package_scripts_test_installs(
        tmp_path: Path) -> None:
    """Each program's Debian package is in TEST_PACKAGES or one of their dependencies, so a
    fresh machine gets it from ./scripts/test (this machine has them all installed)."""
    wanted = packages("TEST_PACKAGES", tmp_path)
    reach = set(wanted)
    for _ in range(2):  # two levels of Depends: baresip -> baresip-core
        for package in list(reach):
            depends = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", package],
                                     capture_output=True, text=True, check=False).stdout
            reach |= {d.split()[0] for d in depends.replace("|", ",").split(",") if d.strip()}
    owners = {}
    for tool in TOOLS_THE_TESTS_RUN:
        found = shutil.which(tool)
        assert found is not None, f"{tool} is not installed: ./scripts/test installs it"
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(found)], capture_output=True,
                               text=True, check=True).stdout.split(":")[0]
        owners[tool] = owner
    assert {t: o for t, o in owners.items() if o not in reach} == {}


FRESH_MACHINE = """
set -eu
ip link set lo up
for d in /etc/postgresql /var/lib/postgresql /var/run/postgresql /var/log/postgresql; do
  mount -t tmpfs tmpfs "$d"
done
chown postgres:postgres /var/lib/postgresql /var/run/postgresql /var/log/postgresql
chmod 2775 /var/run/postgresql
trap 'pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main stop || true' EXIT
source "{bootstrap}"
ensure_postgres
echo FIRST-DONE
ensure_postgres
echo SECOND-DONE
"$VENV/bin/python" -c "
import psycopg
with psycopg.connect('postgresql://postgres@127.0.0.1:5432/test', autocommit=True) as conn:
    conn.execute('CREATE DATABASE e911_probe')
    conn.execute('DROP DATABASE e911_probe')
print('TEST-DB-OK')
"
"""


def test_ensure_postgres_makes_a_fresh_machines_server_answer_the_tests(tmp_path: Path) -> None:
    """A machine with the postgresql package but no cluster (new mount and network namespaces:
    empty /etc/postgresql, nothing on 127.0.0.1:5432): ensure_postgres creates and starts the
    cluster, lets postgres in from loopback and creates `test`; the suite's URL then creates
    and drops a database; a second call is silent. The cluster is stopped afterwards."""
    assert shutil.which("unshare") and shutil.which("pg_createcluster"), \
        "util-linux and postgresql are installed by ./scripts/test"
    done = subprocess.run(
        ["unshare", "--mount", "--net", "--fork", "bash", "-c",
         FRESH_MACHINE.replace("{bootstrap}", str(BOOTSTRAP))],
        env={**os.environ, "E911_BOOTSTRAP_LOG": str(tmp_path / "bootstrap.log")},
        capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["FIRST-DONE", "SECOND-DONE", "TEST-DB-OK"]
    said = [line for line in done.stderr.splitlines() if line.startswith("[bootstrap]")]
    version = max(os.listdir("/usr/lib/postgresql"), key=int)
    assert said == [
        f"[bootstrap] creating the PostgreSQL {version} cluster 'main'",
        f"[bootstrap] starting PostgreSQL {version}",
        f"[bootstrap] letting postgres log in from 127.0.0.1 without a password, for the tests "
        f"(/etc/postgresql/{version}/main/pg_hba.conf)",
        "[bootstrap] creating the PostgreSQL database 'test'",
    ]
