"""A real SMTP server for the notification tests (aiosmtpd on 127.0.0.1, a free port) whose
handler keeps what it received and can refuse or hold a step, and a throwaway TLS certificate."""

from __future__ import annotations

import asyncio
import email
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.ports import free_port


@dataclass(frozen=True, slots=True)
class Received:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    """The DATA exactly as received (dot-unstuffed), headers and body."""
    at: float
    """time.time() when the server had the whole message."""

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content()).replace("\r\n", "\n")

    def header_names(self) -> list[str]:
        head = self.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        return [line.split(":", 1)[0] for line in head.split("\r\n")
                if line and line[0] not in " \t"]


@dataclass
class Handler:
    """aiosmtpd handler: keeps every message; tests can make it refuse or hold a step."""

    received: list[Received] = field(default_factory=list)
    rcpt_reply: Callable[[str], str | None] = lambda address: None
    """Return an SMTP reply to refuse RCPT TO for `address` (None accepts)."""
    data_reply: Callable[[Received], str] = lambda message: "250 Message accepted for delivery"
    hold_rcpt: threading.Event | None = None
    """While set to an unset Event, RCPT waits (the client sits before DATA)."""
    hold_data: threading.Event | None = None
    """While set to an unset Event, the reply to the final dot waits (the message is in)."""
    at_rcpt: threading.Event = field(default_factory=threading.Event)
    at_data: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        self.at_rcpt.set()
        if self.hold_rcpt is not None:
            while not self.hold_rcpt.is_set():
                await asyncio.sleep(0.01)
        refusal = self.rcpt_reply(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        got = Received(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.original_content,
                       time.time())
        reply = self.data_reply(got)
        if reply.startswith("250"):
            with self.changed:
                self.received.append(got)
                self.changed.notify_all()
        self.at_data.set()
        if self.hold_data is not None:
            while not self.hold_data.is_set():
                await asyncio.sleep(0.01)
        return reply

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Block until at least `count` messages arrived; returns them all."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.received)} of {count} messages arrived in {timeout} s")
                self.changed.wait(left)
            return list(self.received)


class SmtpServer:
    """A real aiosmtpd server on 127.0.0.1:`port`, started and stopped on demand."""

    def __init__(self, port: int | None = None, **smtp_parameters: Any) -> None:
        self.port = port or free_port()
        self.handler = Handler()
        self._parameters = smtp_parameters
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                      **self._parameters)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (openssl CLI)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key
