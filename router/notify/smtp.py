"""Talking to the SMTP server named by `E911_SMTP_URL` (smtplib; RFC 5321, STARTTLS RFC 3207,
AUTH RFC 4954), and sorting what went wrong into "give up" and "try again".

    smtp://[user:pass@]host[:25]             no TLS (AUTH, if any, in clear: loopback only)
    smtp+starttls://[user:pass@]host[:587]   STARTTLS required before anything else
    smtps://[user:pass@]host[:465]           TLS from the first byte (RFC 8314)

A `?cafile=/path/ca.pem` query names extra CA certificates to trust (a private relay).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_TIMEOUT_SECONDS = 20.0
"""Per socket operation; a whole message takes at most a handful of them."""

DEFAULT_MESSAGES_PER_CONNECTION = 100
"""Messages one connection carries before the session says QUIT and opens another: relays
limit messages per connection (often to 100 or fewer, answering 421 past it), and a fresh
connection now and then spreads a long backlog over the relay's front ends."""


class Security(StrEnum):
    PLAIN = "plain"
    STARTTLS = "starttls"
    TLS = "tls"


_DEFAULT_PORTS = {Security.PLAIN: 25, Security.STARTTLS: 587, Security.TLS: 465}
_SCHEMES = {"smtp": Security.PLAIN, "smtp+starttls": Security.STARTTLS, "smtps": Security.TLS}


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = None
    cafile: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        security = _SCHEMES.get(parts.scheme)
        if security is None or not parts.hostname:
            raise ValueError("SMTP URL must be smtp://, smtp+starttls:// or smtps:// with a host")
        query = parse_qs(parts.query)
        cafile = query.get("cafile", [None])[0]
        return cls(
            host=parts.hostname, port=parts.port or _DEFAULT_PORTS[security], security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            cafile=cafile,
        )

    def describe(self) -> str:
        """For logs: never the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.security.value}://{user}{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)


class SendError(Exception):
    """One message was not accepted.

    `permanent`: retrying cannot help (the server refused this recipient or this message
    with a 5xx). `maybe_accepted`: the connection broke after the message data began, so the
    server may have accepted it (RFC 5321 s4.1.1.4; RFC 1047's duplicate-message problem).
    """

    def __init__(self, text: str, *, code: int | None = None, permanent: bool = False,
                 maybe_accepted: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.permanent = permanent
        self.maybe_accepted = maybe_accepted


class SmtpUnavailable(Exception):
    """No session could be opened: the connection was refused or timed out, the server sent
    no greeting or refused one (421/554), or EHLO, STARTTLS, the TLS handshake or AUTH failed.
    Nothing about any one message: every delivery would fail the same way, so the sender stops
    its pass and backs off on the server (docs/notifications.md, "SMTP server outage")."""

    def __init__(self, text: str, *, code: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


class _Dropped(Exception):
    """A reused connection turned out dead before the message data began (the server timed
    it out or closed it, 421): nothing was sent on it; open a new one and start again."""


class LeaseLost(Exception):
    """The delivery's lease was taken by another sender before the data went out."""


def _reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


class SmtpSession:
    """One SMTP connection used for several messages (one transaction each, RFC 5321 s3.3),
    at most `messages_per_connection` of them; reconnects after any failure. Use as a context
    manager; `close()` sends QUIT."""

    def __init__(self, target: SmtpTarget, *, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 ssl_context: ssl.SSLContext | None = None,
                 local_hostname: str | None = None,
                 messages_per_connection: int = DEFAULT_MESSAGES_PER_CONNECTION) -> None:
        if messages_per_connection < 1:
            raise ValueError("messages_per_connection must be at least 1")
        self._target = target
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname
        self._per_connection = messages_per_connection
        self._conn: smtplib.SMTP | None = None
        self._carried = 0
        """Messages accepted on the current connection."""
        self.connections = 0
        """Connections opened (or tried) by this session: for tests and logs."""

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def _abandon(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or self._target.ssl_context()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def open(self) -> None:
        """Open the connection now (greeting, EHLO, STARTTLS, AUTH) unless one is open.
        Raises `SmtpUnavailable`."""
        if self._conn is not None:
            return
        self.connections += 1
        try:
            self._conn = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            raise SmtpUnavailable(
                f"authentication failed: {_reply_text(exc.smtp_code, exc.smtp_error)}",
                code=exc.smtp_code) from exc
        except smtplib.SMTPResponseException as exc:
            # A greeting other than 220 (SMTPConnectError), EHLO and HELO refused, STARTTLS
            # or AUTH answered 4xx/5xx.
            raise SmtpUnavailable(_reply_text(exc.smtp_code, exc.smtp_error),
                                  code=exc.smtp_code) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise SmtpUnavailable(f"server does not support: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Refused, timed out, closed before the greeting, TLS handshake or verification.
            raise SmtpUnavailable(_os_error_text(exc)) from exc
        self._carried = 0

    def _connect(self) -> smtplib.SMTP:
        t = self._target
        conn: smtplib.SMTP
        if t.security is Security.TLS:
            conn = smtplib.SMTP_SSL(t.host, t.port, local_hostname=self._local_hostname,
                                    timeout=self._timeout, context=self._context())
        else:
            conn = smtplib.SMTP(t.host, t.port, local_hostname=self._local_hostname,
                                timeout=self._timeout)
        try:
            # EHLO, else HELO (RFC 5321 s4.1.1.1); SMTPHeloError when both are refused.
            conn.ehlo_or_helo_if_needed()
            if t.security is Security.STARTTLS:
                # RFC 3207 s4.2: after STARTTLS forget everything learnt and EHLO again.
                conn.starttls(context=self._context())
                conn.ehlo_or_helo_if_needed()
            if t.username is not None:
                conn.login(t.username, t.password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, message: EmailMessage, *, sender: str, recipient: str,
             before_data: Callable[[], bool]) -> str:
        """Send `message` to `recipient` in one SMTP transaction; returns the server's reply to
        the message data ("250 ..."). Opens the connection if none is open (after
        `messages_per_connection` messages, a new one); a reused connection found dead before
        the data began is replaced once, transparently. Raises `SmtpUnavailable` when no
        connection can be opened, `SendError` (the connection is then dropped), or `LeaseLost`
        when `before_data()` says the delivery is no longer ours."""
        if self._conn is not None and self._carried >= self._per_connection:
            self.close()
        reused = self._conn is not None
        self.open()
        try:
            reply = self._transaction(message, sender=sender, recipient=recipient,
                                      before_data=before_data, reused=reused)
        except _Dropped:
            self.open()
            reply = self._transaction(message, sender=sender, recipient=recipient,
                                      before_data=before_data, reused=False)
        self._carried += 1
        return reply

    def _transaction(self, message: EmailMessage, *, sender: str, recipient: str,
                     before_data: Callable[[], bool], reused: bool) -> str:
        """MAIL, RCPT, DATA on the open connection. `reused`: it carried earlier messages, so
        a disconnect or 421 before the data means the connection went stale (`_Dropped`), not
        that this message has a problem."""
        data_started = False
        conn = self._conn
        assert conn is not None
        try:
            code, reply = conn.mail(sender)
            if code == 421 and reused:
                # RFC 5321 s3.8: the server is closing this channel; nothing was sent.
                self._abandon()
                raise _Dropped()
            if code != 250:
                conn.rset()
                # A refused sender is the sender's configuration, not this message: retry.
                raise SendError(f"MAIL FROM refused: {_reply_text(code, reply)}", code=code)
            code, reply = conn.rcpt(recipient)
            if code not in (250, 251):
                conn.rset()
                raise SendError(f"RCPT TO refused: {_reply_text(code, reply)}", code=code,
                                permanent=500 <= code < 600)
            if not before_data():
                conn.rset()
                raise LeaseLost()
            data_started = True
            code, reply = conn.data(message.as_bytes())
            if code != 250:
                raise SendError(f"message refused: {_reply_text(code, reply)}", code=code,
                                permanent=500 <= code < 600)
            return _reply_text(code, reply)
        except (SendError, LeaseLost, _Dropped):
            raise
        except smtplib.SMTPDataError as exc:
            # The reply to DATA itself (not 354): nothing was accepted.
            self._abandon()
            raise SendError(f"DATA refused: {_reply_text(exc.smtp_code, exc.smtp_error)}",
                            code=exc.smtp_code, permanent=500 <= exc.smtp_code < 600) from exc
        except smtplib.SMTPResponseException as exc:
            # Any other error reply (a line too long, ...): retried.
            self._abandon()
            raise SendError(_reply_text(exc.smtp_code, exc.smtp_error), code=exc.smtp_code,
                            maybe_accepted=data_started) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Timeout, disconnect: temporary. After the data began we cannot know whether the
            # server accepted the message.
            self._abandon()
            if reused and not data_started and isinstance(
                    exc, smtplib.SMTPServerDisconnected | ConnectionError):
                raise _Dropped() from exc
            raise SendError(_os_error_text(exc), maybe_accepted=data_started) from exc


def _os_error_text(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out talking to the SMTP server"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused by the SMTP server"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"SMTP server disconnected: {exc}" if str(exc) else "SMTP server disconnected"
    return f"{type(exc).__name__}: {exc}"
