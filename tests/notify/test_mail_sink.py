"""`e911-router mail-sink` as a real process: SMTP on loopback, each message one file in the
mail directory; the router's real notification sender delivers the Kari's Law e-mails to it."""

from __future__ import annotations

import email
import os
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.policy import default
from pathlib import Path

import pytest

from router.notify.outbox import Outbox
from router.store.store import Store
from tests.support.notices import CONTACTS, notice, with_contacts
from tests.support.ports import free_port
from tests.support.sender_process import REPO, spawn_sender

MESSAGE = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n"
           b"Message-ID: <1@example.com>\r\n\r\nbody line\r\n")


class SinkProcess:
    """The sink started as `python -m router mail-sink`, its stderr collected."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "router", "mail-sink", *args], cwd=cwd,
            env={**clean, "PYTHONPATH": str(REPO), **(env or {})},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("mail-sink: listening on"):
                self._ready.set()
        self._ready.set()  # exited: wait_ready sees the exit code

    def wait_ready(self) -> None:
        assert self._ready.wait(20), "the sink never said it listens"
        assert self.proc.poll() is None, (self.proc.returncode, self.lines)

    def exit_code(self) -> int:
        """Its exit code once it ends by itself; every stderr line read by then."""
        code = self.proc.wait(20)
        self._reader.join(5)
        return code

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()  # by PID, our own child
        return self.exit_code()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[SinkProcess, int, Path]]:
    port = free_port()
    process = SinkProcess(["--listen", f"127.0.0.1:{port}", "--dir", "var/mail"], tmp_path)
    process.wait_ready()
    yield process, port, tmp_path / "var" / "mail"
    process.stop()


def wait_for_files(directory: Path, count: int, timeout: float = 20.0) -> list[Path]:
    """The .eml files once there are `count` (a file appears whole: written, then renamed)."""
    deadline = time.monotonic() + timeout
    while True:
        files = sorted(directory.glob("*.eml"))
        if len(files) >= count or time.monotonic() > deadline:
            return files
        time.sleep(0.05)


def test_a_message_lands_as_one_file_with_its_envelope(
        sink: tuple[SinkProcess, int, Path]) -> None:
    """SMTP to the sink: 250 naming the file; the file is the envelope lines, then the message
    byte for byte; SIGTERM stops it with exit 0."""
    process, port, mail = sink
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        code, _ = client.mail("a@example.com")
        assert code == 250
        client.rcpt("b@example.com")
        client.rcpt("c@example.com")
        code, answer = client.data(MESSAGE)
    (kept,) = list(mail.glob("*.eml"))
    assert (code, answer.decode()) == (250, f"2.0.0 kept as {kept.name}")
    assert kept.read_bytes() == (b"X-Mail-Sink-From: <a@example.com>\r\n"
                                 b"X-Mail-Sink-To: <b@example.com>, <c@example.com>\r\n"
                                 + MESSAGE)
    assert not list(mail.glob(".*.part"))
    assert process.stop() == 0


def test_the_routers_sender_delivers_the_contacts_emails_to_the_sink(
        store: Store, store_url: str, sink: tuple[SinkProcess, int, Path],
        tmp_path: Path) -> None:
    """A recorded 911 call: the real `notify sender` mails each contact through the sink, and
    each e-mail is on disk naming the call, to the contact, with the caller's callback."""
    _, port, mail = sink
    call = notice()
    Outbox(with_contacts(store)).record_call(call)
    sender = spawn_sender(store_url, f"smtp://127.0.0.1:{port}", tmp_path)
    try:
        files = wait_for_files(mail, len(CONTACTS))
    finally:
        sender.stop()
    assert len(files) == len(CONTACTS)
    messages = [email.message_from_bytes(f.read_bytes(), policy=default) for f in files]
    assert sorted(str(m["To"]) for m in messages) == sorted(CONTACTS)
    assert {str(m["X-E911-Call-Ref"]) for m in messages} == {call.call_ref}
    assert all(m["X-Mail-Sink-To"] == f"<{m['To']}>" for m in messages)
    assert all("+14065551234" in m.get_body().get_content() for m in messages)  # type: ignore[union-attr]


def test_it_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    """It takes mail from anyone without a login: a non-loopback address is exit 2."""
    process = SinkProcess(["--listen", "0.0.0.0:8025"], tmp_path)
    assert process.exit_code() == 2
    assert process.lines == ["error: --listen '0.0.0.0:8025': the sink listens on loopback "
                             "only (127.0.0.0/8, ::1): it takes mail from anyone without a "
                             "login"]


def test_it_listens_where_e911_smtp_url_points(tmp_path: Path) -> None:
    """No --listen: the host and port of E911_SMTP_URL, where the router sends its mail."""
    port = free_port()
    process = SinkProcess([], tmp_path, {"E911_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    try:
        process.wait_ready()
        assert process.lines[0] == (f"mail-sink: listening on smtp://127.0.0.1:{port}, keeping "
                                    f"messages in {tmp_path / 'var' / 'mail'}")
    finally:
        assert process.stop() == 0


def test_it_stands_aside_when_the_router_mails_a_real_server(tmp_path: Path) -> None:
    """E911_SMTP_URL naming another server: exit 0 saying no sink started, nothing bound."""
    process = SinkProcess([], tmp_path, {"E911_SMTP_URL": "smtps://mail.example.com:465"})
    assert process.exit_code() == 0
    assert process.lines == ["mail-sink: E911_SMTP_URL names a mail server that is not a plain "
                             "smtp:// address on loopback; the router's mail goes there, no "
                             "sink started"]
