"""One parser for captured SIP messages: a message's start line, headers (folded lines
joined, compact names expanded) and body; SIPp `<log>` files split into messages."""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMPACT_HEADERS = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
    "c": "Content-Type", "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via",
}


@dataclass(frozen=True, slots=True)
class SipMessage:
    """A captured SIP message: start line, headers in order (compact names expanded)."""

    start_line: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def values(self, name: str) -> list[str]:
        """Every value of a header, comma-joined repeats not split."""
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def header(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None


def parse_sip_message(raw: str | bytes) -> SipMessage:
    """Parse captured SIP text: CRLF or bare LF, leading blank lines, folded header lines,
    compact header names (RFC 3261 s7.3.3)."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    data = data.lstrip(b"\r\n")
    match = re.search(rb"\r?\n\r?\n", data)
    head, body = (data, b"") if match is None else (data[: match.start()], data[match.end():])
    lines = re.split(r"\r?\n", head.decode("utf-8", errors="replace"))
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"malformed header line: {line!r}")
        name = name.strip()
        headers.append((_COMPACT_HEADERS.get(name.lower(), name), value.strip()))
    return SipMessage(start_line=lines[0], headers=tuple(headers), body=body)


def split_logged(text: str) -> list[str]:
    """SIPp's `<log>` writes each message as received (CRLF line ends) plus one LF."""
    chunks = re.split(r"\n(?=(?:[A-Z]+ \S+ SIP/2\.0|SIP/2\.0 \d{3} )[^\n]*\r\n)", text)
    messages = []
    for chunk in chunks:
        if chunk.endswith("\n") and not chunk.endswith("\r\n"):
            chunk = chunk[:-1]
        if chunk.strip():
            messages.append(chunk)
    return messages


def logged_invites(text: str) -> list[str]:
    """The INVITEs of a SIPp `<log>` file's text."""
    return [m for m in split_logged(text) if m.startswith("INVITE ")]
