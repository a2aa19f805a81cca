"""The README's own commands, run top to bottom against a real `./scripts/run` (issue 14).

The commands are read from README.md, not copied: every ```sh block right after a
`<!-- readme-test: NAME -->` line, in order. The `run` block starts in the background; the
others run one after another in one bash shell with `set -euo pipefail`, so a failing command,
a `grep` that finds nothing or a placeholder nobody set stops the walkthrough, and each
block's output is checked against what the README says it shows. Then the quick-start 911
block runs once more: the walkthrough must not have moved the demo caller's location away.

Everything runs in a private network namespace (`unshare --net`, with `--map-root-user` when
not root): the README's default ports (5060, 8080, 9911, the demo trunks, the mail sink) are
free there whatever else runs on this host, and nothing leaves loopback. The run directory is
a copy of scripts/, config/ and sipp-scenarios/ in tmp_path beside the project's .venv, so the
developer's own var/ is untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.processes import wait_until
from tests.support.sip_messages import logged_invites

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
MARKED_BLOCK = re.compile(r"^<!-- readme-test: ([a-z0-9-]+) -->\n```sh\n(.*?)^```$",
                          re.MULTILINE | re.DOTALL)
COPIED = ("scripts", "config", "sipp-scenarios", "pyproject.toml", "requirements.lock")
READY_SECONDS = 90.0
BLOCK_SECONDS = 60.0
DEMO_CALLER = "+14065550101"
DEMO_CONTACT = "e911-contacts@example.com"
ANNOUNCEMENT_SECONDS = 9.19
"""config/prompts/en/address-not-registered.wav, which the unlocated caller 2002 hears."""


@dataclass(frozen=True, slots=True)
class Block:
    name: str
    text: str


def readme_blocks(text: str) -> list[Block]:
    """The marked ```sh blocks of a README, in order."""
    return [Block(m.group(1), m.group(2)) for m in MARKED_BLOCK.finditer(text)]


def json_values(text: str) -> list[Any]:
    """Every JSON value in `text`, in order (curl prints bodies back to back)."""
    decoder = json.JSONDecoder()
    values, i = [], 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                i += 1
                continue
            values.append(value)
            i = end
        else:
            i += 1
    return values


def invites(log: Path) -> list[str]:
    """The INVITEs a demo trunk (SIPp `-trace_logs`) received."""
    if not log.exists():
        return []
    text = log.read_bytes().decode("utf-8", errors="replace")
    return logged_invites(text)


def mail_files(root: Path) -> list[Path]:
    folder = root / "var" / "mail"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


class Walkthrough:
    """One bash shell in a fresh network namespace, fed the README's blocks one at a time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.out = root / "readme-out"
        self.out.mkdir()
        unshare = shutil.which("unshare")
        if unshare is None:
            pytest.fail("util-linux `unshare` is missing (apt-get install util-linux)")
        argv = [unshare, "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("E911_", "VIRTUAL_ENV"))}
        env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        self.log = (self.out / "shell.log").open("wb")
        self.proc = subprocess.Popen(
            [*argv, "bash", "--norc", "--noprofile"], cwd=root, env=env,
            stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self._send("set -euo pipefail; ip link set lo up; echo lo up")
        self.run_pid: int | None = None
        self.count = 0
        shell_log = self.out / "shell.log"
        wait_until(lambda: b"lo up" in shell_log.read_bytes() or self.proc.poll() is not None,
                   10, "the namespace's loopback")
        if self.proc.poll() is not None:
            pytest.fail(f"no private network namespace ({' '.join(argv)}: needs root or "
                        f"unprivileged user namespaces): {shell_log.read_text(errors='replace')}")

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def start(self, block: Block) -> Path:
        """The `run` block, in the background; returns its log."""
        lines = [ln for ln in block.text.splitlines() if ln.strip()
                 and not ln.lstrip().startswith("#")]
        assert len(lines) == 1, f"the run block must be one command: {block.text!r}"
        log, pid = self.out / "run.log", self.out / "run.pid"
        self._send(f"{lines[0]} >{shlex.quote(str(log))} 2>&1 </dev/null & "
                   f"echo $! >{shlex.quote(str(pid))}")
        wait_until(lambda: pid.exists() and pid.read_text().strip() != "", 10, "run.pid")
        self.run_pid = int(pid.read_text())
        return log

    def running(self) -> bool:
        """The shell and ./scripts/run are both alive."""
        if self.proc.poll() is not None or self.run_pid is None:
            return False
        try:
            os.kill(self.run_pid, 0)
        except ProcessLookupError:
            return False
        return True

    def run(self, block: Block) -> tuple[str, float]:
        """Run one block in the shell; its output and how long it took."""
        self.count += 1
        stem = self.out / f"{self.count:02d}-{block.name}"
        script, output, done = (stem.with_suffix(s) for s in (".sh", ".out", ".done"))
        script.write_text(block.text)
        started = time.monotonic()
        # stdin from /dev/null: SIPp (and anything else) must not read the shell's own script.
        self._send(f"exec >{shlex.quote(str(output))} 2>&1; "
                   f"source {shlex.quote(str(script))} </dev/null; "
                   f"echo ok >{shlex.quote(str(done))}")
        try:
            wait_until(lambda: done.exists() or self.proc.poll() is not None, BLOCK_SECONDS,
                       f"README block {block.name!r}")
        finally:
            text = output.read_text(errors="replace") if output.exists() else ""
        if not done.exists():
            raise AssertionError(
                f"README block {block.name!r} failed (shell exit {self.proc.poll()}):\n"
                f"{block.text}\n--- output ---\n{text[-4000:]}")
        return text, time.monotonic() - started

    def close(self) -> None:
        """Stop ./scripts/run (its trap stops its children), then the shell."""
        if self.run_pid is not None:
            with _ignore_gone():
                os.kill(self.run_pid, signal.SIGTERM)
            _wait_gone(self.run_pid, 30)
        if self.proc.poll() is None and self.proc.stdin is not None:
            with _ignore_gone():
                self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class _ignore_gone:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, (ProcessLookupError, BrokenPipeError))


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"./scripts/run (pid {pid}) still running {timeout} s after SIGTERM")


def venv_is_current() -> bool:
    """Whether scripts/lib/bootstrap.sh's `ensure_venv` would leave .venv alone (its stamp is
    the hash of requirements.lock + pyproject.toml). Otherwise ./scripts/run in the copy would
    reinstall the project into the shared .venv from the copy, which then vanishes."""
    stamp = REPO / ".venv" / ".e911-installed"
    want = hashlib.sha256((REPO / "requirements.lock").read_bytes()
                          + (REPO / "pyproject.toml").read_bytes()).hexdigest()[:16]
    return stamp.exists() and stamp.read_text().strip() == want


@pytest.fixture
def walkthrough(tmp_path: Path) -> Iterator[Walkthrough]:
    if not venv_is_current():
        pytest.fail(".venv is older than requirements.lock/pyproject.toml: run ./scripts/run "
                    "or ./scripts/test in the repository once, then this test")
    root = tmp_path / "r"  # short: Kamailio's ctl socket path must stay under 104 bytes
    root.mkdir()
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(REPO / ".venv")
    shell = Walkthrough(root)
    try:
        yield shell
    finally:
        shell.close()


# --- what each block must show ------------------------------------------------------------

Check = Callable[[str, float, Path], None]


def check_path(out: str, _t: float, _root: Path) -> None:
    assert re.search(r"^e911-router \d+\.\d+", out, re.MULTILINE), out


def check_call_911(out: str, _t: float, root: Path) -> None:
    """The PSAP trunk received the 911 with a schema-valid PIDF-LO and Ada's callback number;
    the sorting center received nothing."""
    assert f'P-Asserted-Identity: "Ada Lovelace" <sip:{DEMO_CALLER}@' in out, out
    assert "Geolocation: <cid:" in out and "Content-Type: application/pidf+xml" in out, out
    received = invites(root / "var" / "trunks" / "psap.log")
    assert received, "no INVITE in var/trunks/psap.log"
    assert_emergency_invite(received[-1], InviteExpectation(callback_number=DEMO_CALLER,
                                                            display_name="Ada Lovelace"))
    assert invites(root / "var" / "trunks" / "sorting-center.log") == []


def check_call_announced(_out: str, took: float, _root: Path) -> None:
    """SIPp's scenario demands 183 then 403 (exit 0 = both came); the 403 came only once the
    announcement had played."""
    assert ANNOUNCEMENT_SECONDS - 1 <= took <= ANNOUNCEMENT_SECONDS + 8, took


def check_mail(out: str, _t: float, root: Path) -> None:
    """The contacts' e-mail for the 911 call is a file in var/mail/ and the block shows it."""
    files = mail_files(root)
    assert files, "no message in var/mail/"
    message = message_from_bytes(files[-1].read_bytes(), policy=policy.default)
    assert DEMO_CONTACT in str(message["To"]), message["To"]
    assert message["X-E911-Call-Ref"], "no X-E911-Call-Ref header"
    assert str(message["X-E911-Call-Ref"]) in out, out


def check_status(out: str, _t: float, _root: Path) -> None:
    assert "OK: nothing needs attention" in out, out
    assert re.search(r"emergency\s+routed_psap\s+1\b", out), out
    assert re.search(r"normal\s+announced_blocked\s+1\b", out), out
    assert re.search(r"pending 0\s+sending 0\s+retrying 0\s+failed 0\s+sent 1\b", out), out
    assert 'e911_calls_total{call_class="emergency",outcome="routed_psap"} 1.0' in out, out


def check_api_setup(out: str, _t: float, _root: Path) -> None:
    health = json_values(out)[0]
    assert health["status"] == "ok" and health["database"] is True, health
    assert "e911-router" in out


def check_api_settings(out: str, _t: float, _root: Path) -> None:
    before, conflict, after = json_values(out)
    assert before["enabled"] is True and before["missing"] == [], before
    assert before["emergency_contacts"] == [DEMO_CONTACT], before
    assert conflict["error"]["type"] == "emergency_settings_incomplete", conflict
    assert [f["field"] for f in conflict["error"]["fields"]] == ["emergency_contacts"], conflict
    assert after["enabled"] is True and after["missing"] == [], after
    assert after["emergency_contacts"] == ["security@example.com",
                                           "facilities-list@example.com"], after
    assert after["callback"]["number"] == "+14065473911", after


def check_api_users(out: str, _t: float, _root: Path) -> None:
    listed, created, got, tokens = json_values(out)
    assert {u["user"] for u in listed["data"]} >= {"1001", "1002"}, listed
    assert created["user"] == "1003" and created["display_name"] == "Alice Smith", created
    assert got == created
    assert [t["label"] for t in tokens["data"]] == ["softphone"], tokens
    assert "e911u_" not in out


def check_api_addresses(out: str, _t: float, _root: Path) -> None:
    values = json_values(out)
    saved, page, next_page, one, bound_here, bound_there, located = values[:7]
    assert saved["address"]["street_name"] == "LARAMIE" and saved["address"]["esn"], saved
    assert [a["id"] for a in page["data"]] == [saved["id"]] and page["has_more"] is False
    assert next_page == {"data": [], "has_more": False}, next_page
    assert one["id"] == saved["id"]
    assert bound_here["binding"]["registered_ip"] == "127.0.0.1", bound_here
    assert bound_there["binding"]["registered_ip"] == "198.51.100.7", bound_there
    assert (located["located"], located["source"], located["address_id"]) == (
        True, "binding", saved["id"]), located
    assert all("error" not in v for v in values), out


def check_api_networks(out: str, _t: float, _root: Path) -> None:
    values = json_values(out)
    created, one, located = values[:3]
    assert created["cidr"] == "10.20.3.0/24" and one["id"] == created["id"], values
    assert (located["located"], located["source"], located["network_id"]) == (
        True, "network", created["id"]), located
    assert all("error" not in v for v in values), out


def check_api_events(out: str, _t: float, _root: Path) -> None:
    assert "event: emergency_call.started" in out, out
    verdict, call = json_values(out)[-2:]
    assert verdict["intact"] is True and verdict["records"] == 1, verdict
    recipients = {d["recipient"]: d["state"] for d in call["deliveries"]}
    assert recipients == {DEMO_CONTACT: "sent"}, call


def check_api_cleanup(out: str, _t: float, _root: Path) -> None:
    (revoked,) = json_values(out)
    assert revoked["error"]["type"] == "unauthenticated", revoked


def check_commands(out: str, _t: float, _root: Path) -> None:
    values = json_values(out)
    classified = next(v for v in values if isinstance(v, dict) and "call_class" in v)
    assert (classified["call_class"], classified["normalized"]) == ("emergency", "911")
    assert any(isinstance(v, dict) and v.get("status") == "valid" for v in values), out
    assert "chain intact: 1 records" in out, out


CHECKS: dict[str, Check] = {
    "path": check_path, "call-911": check_call_911, "call-announced": check_call_announced,
    "mail": check_mail, "status": check_status, "api-setup": check_api_setup,
    "api-settings": check_api_settings, "api-users": check_api_users,
    "api-addresses": check_api_addresses, "api-networks": check_api_networks,
    "api-events": check_api_events, "api-cleanup": check_api_cleanup,
    "commands": check_commands,
}


def test_readme_marks_every_block_this_test_checks() -> None:
    """README.md has the `run` block first, then exactly the checked blocks, each once."""
    names = [b.name for b in readme_blocks(README.read_text())]
    assert names[0] == "run", names
    assert sorted(names[1:]) == sorted(CHECKS), names
    assert len(set(names)) == len(names), names


def test_readme_walkthrough_runs_top_to_bottom(walkthrough: Walkthrough) -> None:
    """Every marked README command works against ./scripts/run and shows what the README says;
    afterwards the quick-start 911 still reaches the PSAP with the demo caller's location."""
    blocks = readme_blocks(README.read_text())
    run_log = walkthrough.start(blocks[0])
    try:
        # The background command opens its log itself: it may not exist yet.
        wait_until(lambda: (run_log.exists() and b'"e911.supervisor.ready"' in
                            run_log.read_bytes()) or not walkthrough.running(), READY_SECONDS,
                   "e911.supervisor.ready in the ./scripts/run log", interval=0.2)
        assert walkthrough.running(), "./scripts/run ended"
    except AssertionError as exc:
        log = run_log.read_text(errors="replace") if run_log.exists() else "(no log)"
        raise AssertionError(f"{exc}\n--- ./scripts/run ---\n{log[-3000:]}") from None
    root = walkthrough.root
    for block in blocks[1:]:
        if block.name == "mail":
            # A person reads the mail a moment after the call; the sender takes about a second.
            wait_until(lambda: bool(mail_files(root)), 20, "a message in var/mail/")
        if block.name == "status":
            wait_until(lambda: _sent(root), 20, "the 911 call's e-mail marked sent")
        out, took = walkthrough.run(block)
        CHECKS[block.name](out, took, root)
    again = next(b for b in blocks if b.name == "call-911")
    out, _ = walkthrough.run(again)
    assert len(invites(root / "var" / "trunks" / "psap.log")) == 2
    check_call_911(out, 0.0, root)


def _sent(root: Path) -> bool:
    """The store says the first 911 call's notification went out (what `status` counts)."""
    with sqlite3.connect(root / "var" / "e911.db") as db:
        row = db.execute("SELECT count(*) FROM notification_deliveries WHERE state = 'sent'"
                         ).fetchone()
    return bool(row and row[0])
