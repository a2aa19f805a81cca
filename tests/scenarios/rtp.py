"""A UDP socket standing in for a caller's RTP port: counts what arrives and keeps the audio."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

PCMU_SILENCE = frozenset({0xFF, 0x7F})
"""G.711 mu-law codes for zero amplitude (positive and negative zero)."""


@dataclass
class RtpSink:
    sock: socket.socket
    packets: int = 0
    payload: bytearray = field(default_factory=bytearray)
    _stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def open(cls, host: str = "127.0.0.1") -> RtpSink:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        sock.settimeout(0.1)
        sink = cls(sock)
        threading.Thread(target=sink._run, daemon=True).start()
        return sink

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) > 12 and data[0] >> 6 == 2:  # RTP version 2 (RFC 3550 s5.1)
                self.packets += 1
                self.payload.extend(data[12:])

    def audible_fraction(self) -> float:
        """Share of received mu-law samples that are not silence."""
        if not self.payload:
            return 0.0
        loud = sum(1 for b in self.payload if b not in PCMU_SILENCE and b not in (0xFE, 0x7E))
        return loud / len(self.payload)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
