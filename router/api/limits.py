"""Request body size limit (ASGI middleware): 413 before a large body is read into memory.

A declared `Content-Length` over the limit is answered at once; a chunked body is counted as
it arrives and cut off when it passes the limit. Every body this API takes is a small JSON
object (the largest, the emergency settings, is about 3 KiB), so 64 KiB is generous.
"""

from __future__ import annotations

import json
from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from router.api.errors import ErrorType, error_body

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False  # the server already refuses a malformed Content-Length
            if too_large:
                await self._refuse(send)
                return
        received = 0
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, answered
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not answered:
                    answered = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not answered:
                raise
            # The app saw a disconnect where its body should be; the 413 has gone out.

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(error_body(
            ErrorType.REQUEST_TOO_LARGE,
            f"request body is larger than {self.max_bytes} bytes"), separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
