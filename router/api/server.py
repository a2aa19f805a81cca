"""The HTTP server's own refusals in the API's error shape.

uvicorn's h11 protocol refuses a request it cannot parse (a NUL or another control byte in a
header value, which RFC 9110 section 5.5 forbids; a header section past its size limit; a
malformed request line) before any application code runs, with a plain-text 400. This
protocol class sends the same 400 as `{"error": {"type": "invalid_request", ...}}`, so a
client sees one error shape whoever refused the request. Pass it to uvicorn as `http=`.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from router.api.errors import ErrorType, error_body


class JsonErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with its parse-error 400 as a JSON error body."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps(error_body(
            ErrorType.INVALID_REQUEST,
            "the request is not valid HTTP/1.1 (a control character or NUL in a header, "
            "headers too large, or a malformed request line)"),
            separators=(",", ":")).encode()
        response = h11.Response(status_code=400, reason=b"Bad Request", headers=[
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ])
        for event in (response, h11.Data(data=body), h11.EndOfMessage()):
            output = self.conn.send(event)
            if output:
                self.transport.write(output)
        self.transport.close()
