"""The front's announcer (issue 16): what kamailio.cfg needs to play "address not registered"
with rtpengine, rendered into the template's `{{announce_modules}}` and `{{announce_routes}}`
holes from `announce.cfg.tmpl` (beside this module). Pure.

With `E911_ANNOUNCE_PATH=front` a worker answers an unlocated caller's ordinary call with a
302 carrying `X-E911-Announce: <language>` (router/sip/worker.py) and frees its slot at once;
failure_route[WORKER_FAILED] hands that 302 to route(ANNOUNCE), which answers 183 with
rtpengine's SDP, plays the prompt and sends 403 + Reason when it ends (docs/announcements.md).
With `worker`, nothing is loaded, and a stray X-E911-Announce 302 gets the 403 + Reason at
once (never a 302 a PBX would follow, never a 503 it would retry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from router.call.modes import AnnounceMode, AnnouncePath
from router.deploy import Front
from router.kamailio.rtpengine import rtpengine_config
from router.settings import Settings

TEMPLATE = Path(__file__).with_name("announce.cfg.tmpl")
PROMPT_STEM = "address-not-registered"
"""config/prompts/<lang>/address-not-registered.wav and its pre-encoded copies
(<stem>.pcmu.wav, .pcma.wav, .g722.wav: scripts/make-prompts)."""
TAIL_MS = 200
"""After rtpengine's reported duration: its player runs up to ~290 ms ahead of real time, so
the last packet has left by then (facts row 7, 13)."""
RESUME_GUARD_MS = 40000
"""fr_timer of the suspended transaction's blind branch: longer than any prompt (async_ms_sleep
refuses 30 s and more) + tail; if the resume is ever lost, failure_route[ANNOUNCE_END] sends
the 403 and deletes the session."""
_LANGUAGE = re.compile(r"[a-z]{2,3}")


@dataclass(frozen=True, slots=True)
class AnnounceFront:
    on: bool = False
    ng_socket: str = ""
    max_concurrent: int = 0
    prompts_dir: Path = Path()
    languages: tuple[str, ...] = ()
    """Languages with a prompt on disk: the only values X-E911-Announce may name."""


def announce_front(settings: Settings) -> AnnounceFront:
    if not front_announces(settings):
        return AnnounceFront()
    prompts = settings.prompts_dir.resolve()
    languages = tuple(sorted(
        d.name for d in prompts.iterdir()
        if _LANGUAGE.fullmatch(d.name) and (d / f"{PROMPT_STEM}.wav").is_file()
    )) if prompts.is_dir() else ()
    return AnnounceFront(on=True, ng_socket=rtpengine_config(settings).ng_socket,
                         max_concurrent=settings.announce_max, prompts_dir=prompts,
                         languages=languages)


def front_announces(settings: Settings) -> bool:
    """Kamailio plays the prompt: asked for, with a front, in early-media mode (the 200 + BYE
    mode stays with the worker)."""
    return (settings.announce_path is AnnouncePath.FRONT and settings.front is Front.KAMAILIO
            and settings.announce_mode is AnnounceMode.EARLY)


def announce_values(announce: AnnounceFront) -> dict[str, str]:
    """The two holes of kamailio.cfg.tmpl."""
    modules, routes = _sections()
    if not announce.on:
        return {"announce_modules": "# Announcements: played by the workers "
                                    "(E911_ANNOUNCE_PATH=worker).",
                "announce_routes": routes["off"]}
    if '"' in str(announce.prompts_dir) or "$" in str(announce.prompts_dir):
        raise ValueError(f"{announce.prompts_dir!r} cannot be written in kamailio.cfg")
    values = {
        "ng_socket": announce.ng_socket,
        "max": str(announce.max_concurrent),
        "prompts_dir": str(announce.prompts_dir),
        "languages_re": "|".join(announce.languages) or "-",
        "stem": PROMPT_STEM,
        "tail_ms": str(TAIL_MS),
        "resume_guard_ms": str(RESUME_GUARD_MS),
    }
    fill = re.compile(r"\[\[([a-z_]+)\]\]")
    return {"announce_modules": fill.sub(lambda m: values[m.group(1)], modules),
            "announce_routes": fill.sub(lambda m: values[m.group(1)], routes["on"])}


def _sections() -> tuple[str, dict[str, str]]:
    """announce.cfg.tmpl: `#== modules`, `#== routes on`, `#== routes off` sections."""
    parts: dict[str, list[str]] = {}
    current = ""
    for line in TEMPLATE.read_text().splitlines():
        if line.startswith("#== "):
            current = line[4:].strip()
            parts[current] = []
        elif current:
            parts[current].append(line)
    text = {name: "\n".join(lines).strip("\n") for name, lines in parts.items()}
    return text["modules"], {"on": text["routes on"], "off": text["routes off"]}
