"""Announcements played by the front: the router's settings for them, a prompt's length, and how
closely a recording follows a prompt's loudness."""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path

from tests.support.paths import PROMPTS
from tests.support.ports import free_port_block


def prompt_seconds(language: str) -> float:
    with wave.open(str(PROMPTS / language / "address-not-registered.wav"), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def announce_env(store_url: str, **extra: str) -> dict[str, str]:
    ng = free_port_block(2)
    low = free_port_block(64)
    return {"E911_DATABASE_URL": store_url, "E911_ANNOUNCE_PATH": "front",
            "E911_RTPENGINE_NG": f"127.0.0.1:{ng}",
            "E911_RTPENGINE_PORTS": f"{low}-{low + 63}", **extra}


def _envelope(wav_path: Path) -> list[float]:
    """RMS of each 20 ms frame of a mono 16-bit WAV (8 kHz or 16 kHz)."""
    with wave.open(str(wav_path), "rb") as wav:
        rate, data = wav.getframerate(), array("h", wav.readframes(wav.getnframes()))
    step = rate // 50
    return [math.sqrt(sum(x * x for x in data[k:k + step]) / step)
            for k in range(0, len(data) - step + 1, step)]


def envelope_match(recording: Path, prompt: Path, max_lag_frames: int = 50) -> float:
    """Best Pearson correlation of the two loudness envelopes over lags up to 1 s: speech
    rises and falls where the words are, so the right prompt matches near 1, another not."""
    rec, ref = _envelope(recording), _envelope(prompt)

    def pearson(a: list[float], b: list[float]) -> float:
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        ma, mb = sum(a) / n, sum(b) / n
        cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
        va = math.sqrt(sum((x - ma) ** 2 for x in a))
        vb = math.sqrt(sum((y - mb) ** 2 for y in b))
        return cov / (va * vb) if va and vb else 0.0

    return max(pearson(rec[lag:], ref) for lag in range(0, max_lag_frames))
