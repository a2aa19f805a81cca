"""`e911-router mail-sink`: a local SMTP server that keeps every message as a file.

The quick start's mail server (./scripts/run starts it): the router e-mails the emergency
contacts (Kari's Law) to `E911_SMTP_URL`, smtp://127.0.0.1:8025 by default, and this sink
accepts every message there and writes it to `var/mail/` as one RFC 5322 file
(`<UTC time>-<n>.eml`, the envelope in two `X-Mail-Sink-*` header lines on top), so
`cat var/mail/*.eml` shows what the contacts would have received.

It listens on loopback only: it takes mail for anyone without authentication, which is right
for a demo on one machine and wrong on any address another machine can reach. It needs the
`demo` extra (aiosmtpd).

Exit codes: 0 stopped by a signal, or not needed (`E911_SMTP_URL` names another server, so
the router's mail goes there); 2 bad settings or a listen address that is not loopback or is
taken.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from router.commands._common import load_settings_or_none

EXIT_OK = 0
EXIT_USAGE = 2
DEFAULT_DIR = "var/mail"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "mail-sink", help="local SMTP sink for the demo: keeps each message in var/mail/")
    parser.add_argument("--listen", help="HOST:PORT on loopback (default: the host and port "
                                         "of E911_SMTP_URL when it is smtp:// on loopback)")
    parser.add_argument("--dir", default=DEFAULT_DIR,
                        help=f"where messages are kept (default: {DEFAULT_DIR})")
    parser.add_argument("--env-file", help="read this file instead of .env")
    parser.set_defaults(handler=_mail_sink_command)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost. Pure."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def sink_address(smtp_url: str) -> tuple[str, int] | None:
    """Where a sink must listen to take the router's mail, or None when `smtp_url` names a
    real server (another host, TLS, or a login the sink would not check). Pure."""
    parts = urlsplit(smtp_url)
    host = parts.hostname or ""
    if parts.scheme != "smtp" or parts.username or not is_loopback(host):
        return None
    return host, parts.port or 25


def parse_listen(text: str) -> tuple[str, int]:
    """'127.0.0.1:8025' or '[::1]:8025' -> (host, port); ValueError says what is wrong. Pure."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen {text!r}: expected HOST:PORT")
    if not is_loopback(host):
        raise ValueError(f"--listen {text!r}: the sink listens on loopback only "
                         f"(127.0.0.0/8, ::1): it takes mail from anyone without a login")
    return host, int(port)


class MailDirHandler:
    """aiosmtpd handler: each accepted message becomes one file, written under a temporary
    name and renamed, so a reader never sees half a message."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._count = 0
        self._lock = threading.Lock()

    def keep(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> Path:
        with self._lock:
            self._count += 1
            count = self._count
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{count:06d}.eml"
        envelope = (f"X-Mail-Sink-From: <{mail_from}>\r\n"
                    f"X-Mail-Sink-To: {', '.join(f'<{r}>' for r in rcpt_tos)}\r\n")
        partial = self.directory / f".{name}.part"
        partial.write_bytes(envelope.encode() + content)
        return partial.rename(self.directory / name)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        path = self.keep(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos],
                         content)
        return f"250 2.0.0 kept as {path.name}"


def _mail_sink_command(args: argparse.Namespace) -> int:
    if args.listen:
        try:
            host, port = parse_listen(args.listen)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    else:
        settings = load_settings_or_none(args.env_file)
        if settings is None:
            return EXIT_USAGE
        address = sink_address(settings.smtp_url)
        if address is None:
            print("mail-sink: E911_SMTP_URL names a mail server that is not a plain smtp:// "
                  "address on loopback; the router's mail goes there, no sink started",
                  file=sys.stderr)
            return EXIT_OK
        host, port = address
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        print("error: the mail sink needs aiosmtpd: pip install -e '.[demo]' "
              "(./scripts/run installs it)", file=sys.stderr)
        return EXIT_USAGE
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(MailDirHandler(directory), hostname=host, port=port,
                            ready_timeout=10.0)
    try:
        controller.start()
    except (OSError, RuntimeError) as exc:
        print(f"error: the mail sink cannot listen on {host}:{port} ({exc}): is another one "
              f"running? Stop it, or point E911_SMTP_URL at a free port", file=sys.stderr)
        return EXIT_USAGE
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"mail-sink: listening on smtp://{host}:{port}, keeping messages in "
          f"{os.path.abspath(directory)}", file=sys.stderr, flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()
    return EXIT_OK
