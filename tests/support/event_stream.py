"""The API's event stream (`GET /v1/events`, server-sent events) read by a test client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx


class Stream:
    """An open SSE response, read frame by frame (blocking, bounded by the read timeout)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()
        self.preamble = self._frame()

    def _frame(self) -> dict[str, str]:
        frame: dict[str, str] = {}
        for line in self.lines:
            if line == "":
                return frame
            key, _, value = line.partition(":")
            frame[key or "comment"] = value.removeprefix(" ")
        raise AssertionError("stream ended")

    def next_frame(self) -> dict[str, str]:
        """The next frame, whatever it carries (an event or a keep-alive comment)."""
        return self._frame()

    def next_event(self) -> dict[str, Any]:
        """The next frame with an event (keep-alive comments skipped)."""
        while True:
            frame = self._frame()
            if "event" in frame:
                data: dict[str, Any] = json.loads(frame["data"])
                assert frame["id"] == str(data["seq"])
                assert frame["event"] == data["type"]
                return data


@contextmanager
def stream(c: httpx.Client, **headers: str) -> Iterator[Stream]:
    with c.stream("GET", "/v1/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response)
