"""The "address not registered" prompt a call is given: its file and length. Pure: reading the
WAVs at startup (`load_prompts`) and playing one are router.sip.announce's job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROMPT_NAME = "address-not-registered.wav"


@dataclass(frozen=True, slots=True)
class Prompt:
    path: Path
    seconds: float

