"""How large the messages a worker sends would be, before it sends them (issue 13). Pure.

The pjsua2-python 2.15.1 wheel builds every message in a PJSIP_MAX_PKT_LEN (4,000 byte) buffer:
a request or response that does not fit fails `PJSIP_EMSGTOOLONG` (measured from about 3,995
bytes: docs/sip-worker.md, "Message size"). A bridged 911 whose trunk INVITE (our headers,
the PIDF-LO, the caller's SDP) would not fit is carried by the front instead; the front's
302 itself is kept under the budget by leaving out what Kamailio can do without.
"""

from __future__ import annotations

from router.call.inbound import MAX_READ_BYTES
from router.call.outgoing import OutgoingRequest

SEND_BUDGET_BYTES = MAX_READ_BYTES - 400
"""What a message we build may take: the wheel's limit less room for what PJSUA adds that we
do not count exactly (Via branch, tags, Record-Route copies, multipart boundaries)."""

PJSUA_INVITE_OVERHEAD = 700
"""Headers PJSUA puts on every INVITE of ours besides those we give it (Via, From with tag,
To, Call-ID, CSeq, Contact, Max-Forwards, User-Agent, Allow, Supported, Session-Expires,
Min-SE, Content-Type with boundary, Content-Length): measured 577 bytes for a bare test
account (2026-12-07); the worker's longer account URI in From and Contact, its User-Agent and
the multipart boundary add about 120."""

RESPONSE_LINE_OVERHEAD = 120
"""A response's status line, To tag, Content-Length and our Server/Allow lines."""


def invite_size(request: OutgoingRequest, sdp: str) -> int:
    """The bytes of the trunk INVITE PJSUA would send for `request` with `sdp`."""
    size = PJSUA_INVITE_OVERHEAD + 2 * len(request.uri)  # Request-URI and To
    size += sum(len(name) + len(value) + 4 for name, value in request.headers)
    for part in request.parts:
        size += 80 + len(part.body.encode("utf-8"))  # boundary + Content-Type line
        size += sum(len(name) + len(value) + 4 for name, value in part.headers)
    return size + len(sdp.encode("utf-8")) + (80 if request.parts and sdp else 0)


def response_size(copied: int, headers: tuple[tuple[str, str], ...]) -> int:
    """The bytes of a body-less response with `headers`, `copied` being the length of what
    it repeats from the request (Via, From, To, Call-ID, CSeq: RFC 3261 s8.2.6.2)."""
    return RESPONSE_LINE_OVERHEAD + copied + sum(len(n) + len(v) + 4 for n, v in headers)
