"""The caller's language in the SDP offer (RFC 8373 human language negotiation).

An emergency call tells the PSAP which language the caller speaks with the media-level
attributes `a=hlang-send:<tag>` (the language we will speak) and `a=hlang-recv:<tag>` (the
language we want to hear), RFC 8373 s5.1-5.2, on the audio stream. We send one tag, the
user's configured preference (en, es or fr; any well-formed BCP 47 tag is accepted), and no
trailing "*": the call never depends on the answer.

`add_hlang` is idempotent: it replaces any hlang-send/hlang-recv lines already in an audio
section with ours (the user's E911 preference is the single source of truth) and puts them at
the end of that section, where attribute lines belong (RFC 4566 s5 field order).
"""

from __future__ import annotations

import re
from enum import Enum

__all__ = ["add_hlang", "hlang_sdp_lines", "language_tag"]

# BCP 47 (RFC 5646) tags as RFC 8373 uses them: primary language, then subtags.
_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_HLANG = ("a=hlang-send:", "a=hlang-recv:")


def language_tag(language: str) -> str:
    """Canonical BCP 47 case ("EN" -> "en", "fr-ca" -> "fr-CA"); accepts a `Language`
    enum member; `ValueError` for anything that is not a language tag."""
    raw = language.value if isinstance(language, Enum) else language
    text = str(raw).strip()
    if _TAG.fullmatch(text) is None:
        raise ValueError(f"not a BCP 47 language tag: {text!r}")
    primary, *subtags = text.split("-")
    canonical = [primary.lower()]
    for subtag in subtags:
        if len(subtag) == 2 and subtag.isalpha():
            canonical.append(subtag.upper())  # region
        elif len(subtag) == 4 and subtag.isalpha():
            canonical.append(subtag.title())  # script
        else:
            canonical.append(subtag.lower())
    return "-".join(canonical)


def hlang_sdp_lines(language: str) -> list[str]:
    """["a=hlang-send:<tag>", "a=hlang-recv:<tag>"] for one language (RFC 8373 s5.1, s5.2)."""
    tag = language_tag(language)
    return [f"a=hlang-send:{tag}", f"a=hlang-recv:{tag}"]


def add_hlang(sdp: str, language: str) -> str:
    """`sdp` with our hlang lines at the end of every active audio m= section (port not 0).

    Line ends follow the input (CRLF unless it uses bare LF) and the result ends with one.
    An SDP without an active audio section comes back unchanged.
    """
    ours = hlang_sdp_lines(language)
    eol = "\n" if "\r\n" not in sdp and "\n" in sdp else "\r\n"
    lines = re.split(r"\r\n|\n", sdp)
    while lines and lines[-1] == "":
        lines.pop()
    out: list[str] = []
    in_audio = False
    changed = False
    for line in lines:
        if line.startswith("m="):
            if in_audio:
                out.extend(ours)
            fields = line[2:].split()
            in_audio = len(fields) >= 2 and fields[0] == "audio" and fields[1] != "0"
            changed = changed or in_audio
        elif in_audio and line.startswith(_HLANG):
            continue
        out.append(line)
    if in_audio:
        out.extend(ours)
    if not changed:
        return sdp
    return eol.join(out) + eol
