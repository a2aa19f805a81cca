"""Asterisk extension names: how one matches a dialled string, and the order they are tried in.

Asterisk keeps a context's extensions in one sorted list and dials the first that matches
(`main/pbx.c`, `ext_cmp()` for the order, `_extension_match_core()` for the match; read there,
written again here from the rules it documents):

- an exact extension (no leading ``_``) sorts before every pattern;
- patterns compare position by position; each position scores ``count << 8 | lowest char``
  where ``count`` is how many characters it accepts: a literal ``0x1xx``, ``N`` (2-9) ``0x832``,
  ``Z`` (1-9) ``0x931``, ``X`` (0-9) ``0xA30``, a set ``[...]`` its size and lowest member; then
  ``.`` (one or more of anything) ``0x18000``, ``!`` (zero or more) ``0x28000``, the end of the
  pattern ``0x30000`` and an unclosed ``[`` ``0x40000``. The lower score is more specific and
  sorts first; equal scores fall back to the set itself, the set holding the lower character
  first. So ``_911`` < ``_9XX`` < ``_X11`` < ``_X.`` < ``_X!``, and ``_X.`` < ``_X``;
- ``-`` is eye candy and ignored outside a set (``_NXX-XXXX``); spaces are dropped when the
  extension is loaded; ``N``/``X``/``Z`` are read in either case; other characters are literal;
- two patterns that compare equal are one extension (their priorities merge).

Only what matters for a full match (``E_MATCH``: a number dialled to the end) is modelled; the
match-more and early-match ("can this still become a match") questions of overlap dialling
are not.
"""

from __future__ import annotations

from dataclasses import dataclass

_END = 0x30000
_DOT = 0x18000
_BANG = 0x28000
_BAD_SET = 0x40000
_DIGITS = "0123456789"
_CLASSES = {"N": "23456789", "X": _DIGITS, "Z": "123456789"}


@dataclass(frozen=True, slots=True)
class _Position:
    score: int
    members: frozenset[str]
    """The characters this position accepts (empty for ``.``, ``!``, the end, a bad set)."""


def normalize(name: str) -> str:
    """The extension name as Asterisk stores it: spaces and ``-`` outside ``[...]`` removed."""
    out: list[str] = []
    in_set = False
    for char in name:
        if char == "[" and name.startswith("_"):
            in_set = True
        elif char == "]":
            in_set = False
        elif char in " -" and not in_set:
            continue
        out.append(char)
    return "".join(out)


def is_pattern(name: str) -> bool:
    return name.startswith("_")


def _set_members(body: str) -> frozenset[str]:
    """``[15-7]`` -> {1, 5, 6, 7}: ``a-b`` is a range when both ends are inside the set."""
    members: set[str] = set()
    index = 0
    while index < len(body):
        first = body[index]
        if index + 2 < len(body) and body[index + 1] == "-":
            last = body[index + 2]
            members.update(chr(c) for c in range(ord(first), ord(last) + 1))
            index += 3
        else:
            members.add(first)
            index += 1
    return frozenset(members)


def _positions(pattern: str) -> list[_Position]:
    """The positions of a pattern (without its ``_``), ending with the end marker."""
    out: list[_Position] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "-":
            continue
        if char.upper() in _CLASSES:
            members = frozenset(_CLASSES[char.upper()])
            out.append(_Position(len(members) << 8 | ord(min(members)), members))
        elif char == ".":
            out.append(_Position(_DOT, frozenset()))
        elif char == "!":
            out.append(_Position(_BANG, frozenset()))
        elif char == "[":
            end = pattern.find("]", index)
            if end == -1:
                out.append(_Position(_BAD_SET, frozenset()))
                return out
            members = _set_members(pattern[index:end])
            index = end + 1
            if members:  # an empty set is skipped, as in Asterisk
                out.append(_Position(len(members) << 8 | ord(min(members)), members))
        else:
            out.append(_Position(1 << 8 | ord(char), frozenset(char)))
    out.append(_Position(_END, frozenset()))
    return out


def _set_rank(members: frozenset[str]) -> tuple[int, ...]:
    """Equal scores: the set holding the lower character sorts first (Asterisk compares the
    sets as bitmaps with the lowest characters in the most significant bits)."""
    bitmap = [0] * 32
    for char in members:
        code = ord(char) & 0xFF
        bitmap[code // 8] |= 1 << (7 - code % 8)
    return tuple(255 - byte for byte in bitmap)


def sort_key(name: str) -> tuple[object, ...]:
    """A key that orders extension names as Asterisk tries them (exact first)."""
    if not is_pattern(name):
        return (0, name.replace("-", ""))
    return (1, tuple((p.score, _set_rank(p.members)) for p in _positions(name[1:])))


def matches(name: str, dialled: str) -> bool:
    """Whether extension ``name`` (exact or ``_`` pattern) takes ``dialled`` when it has been
    dialled in full."""
    if not is_pattern(name):
        return name.replace("-", "") == dialled.replace("-", "")
    data = dialled.replace("-", "")
    positions = _positions(name[1:])
    for index, position in enumerate(positions):
        if position.score == _END:
            return index == len(data)
        if position.score == _BAD_SET:
            return False
        if position.score in (_DOT, _BANG):
            # '.' needs at least one more character; '!' takes none as well.
            return index < len(data) or position.score == _BANG
        if index >= len(data) or data[index] not in position.members:
            return False
    return False


def min_length(name: str) -> int:
    """The fewest characters ``name`` matches."""
    if not is_pattern(name):
        return len(name.replace("-", ""))
    count = 0
    for position in _positions(name[1:]):
        if position.score in (_END, _BANG, _BAD_SET):
            break
        count += 1
    return count


def accepts_length(name: str, length: int) -> bool:
    """Whether some string of ``length`` characters could match ``name``."""
    if not is_pattern(name):
        return len(name.replace("-", "")) == length
    for fixed, position in enumerate(_positions(name[1:])):
        if position.score == _END:
            return length == fixed
        if position.score == _BAD_SET:
            return False
        if position.score == _DOT:
            return length > fixed
        if position.score == _BANG:
            return length >= fixed
    return False


def first_literal_digit(name: str) -> str | None:
    """The digit a pattern's first position accepts when it accepts exactly one digit."""
    text = name[1:] if is_pattern(name) else name.replace("-", "")
    if not text:
        return None
    if not is_pattern(name):
        return text[0] if text[0] in _DIGITS else None
    first = _positions(text)[0]
    if len(first.members) == 1:
        (only,) = tuple(first.members)
        return only if only in _DIGITS else None
    return None
