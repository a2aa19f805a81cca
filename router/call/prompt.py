"""The "address not registered" prompts on disk: one WAV a language, read at startup. Pure
(the wave module only: playing a prompt is router.sip.announce's job)."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

PROMPT_NAME = "address-not-registered.wav"


@dataclass(frozen=True, slots=True)
class Prompt:
    path: Path
    seconds: float


def load_prompts(prompts_dir: Path, languages: tuple[str, ...]) -> dict[str, Prompt]:
    """`<dir>/<lang>/address-not-registered.wav` for each language found (read at startup)."""
    prompts: dict[str, Prompt] = {}
    for language in languages:
        path = prompts_dir / language / PROMPT_NAME
        if not path.is_file():
            continue
        with wave.open(str(path), "rb") as wav:
            seconds = wav.getnframes() / float(wav.getframerate())
        prompts[language] = Prompt(path.resolve(), seconds)
    return prompts
