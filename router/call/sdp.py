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


def media_address(sdp: str) -> tuple[str, ...]:
    """Where RTP goes: the `c=` lines and each `m=` line's media and port, in order (RFC 4566
    s5.7, s5.14). Equal for two SDPs that send media to the same place; a direction attribute
    or a narrower format list (an answer picking one codec of an offer) leaves it equal."""
    found = []
    for line in sdp.splitlines():
        if line.startswith("c="):
            found.append(line.strip())
        elif line.startswith("m="):
            found.append(" ".join(line.split()[:2]))
    return tuple(found)
