"""Reading SDP out of SIP messages (RFC 4566 text). Pure."""

from __future__ import annotations


def sdp_body(whole_msg: str) -> str:
    """The body of a SIP message when it is SDP, else ""."""
    head, sep, body = whole_msg.partition("\r\n\r\n")
    if not sep:
        return ""
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() in ("content-type", "c"):
            return body if value.strip().lower().startswith("application/sdp") else ""
    return ""
