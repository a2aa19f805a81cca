"""Read an Asterisk ``extensions.conf`` into contexts, extensions, priorities and includes.

Pure: it takes the file's text and returns frozen data. What is read (as Asterisk's
``pbx_config`` reads it): ``[context]`` headers with template options (``(!)`` a template,
``(+)`` add to a context, ``(a,b)`` copy the templates a and b), ``exten =>``/``same =>`` lines
with numbered, ``n``, ``n+K`` and labelled priorities (``n(label)``), ``_`` patterns and
``/callerid`` matches, ``include =>`` with an optional time window, ``[globals]`` variables,
``;`` comments (``\\;`` is a literal semicolon) and ``;-- --;`` block comments. What cannot be
checked from this one file is kept as such: ``#include``/``#exec`` and ``switch =>`` lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dialplan.pbxlint.asterisk_pattern import is_pattern, normalize, sort_key

#: Contexts that hold settings, not extensions.
SETTINGS_SECTIONS = frozenset({"general", "globals"})

_HEADER = re.compile(r"\[(?P<name>[^\]]+)\]\s*(?:\((?P<options>[^)]*)\))?\s*$")
_ASSIGN = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=>?\s*(?P<value>.*)$")
_PRIORITY = re.compile(r"(?P<base>\d+|n(?:\+(?P<plus>\d+))?|hint)(?:\((?P<label>[^)]*)\))?$",
                       re.IGNORECASE)
_APP = re.compile(r"(?P<app>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\((?P<args>.*)\))?\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Step:
    """One priority: ``exten => 911,2(label),Dial(PJSIP/911@router)``."""

    priority: int
    label: str
    app: str
    """The application name as written (``Dial``, ``Goto``, ...)."""
    args: str
    """Everything between the application's parentheses, unparsed."""
    line: int


@dataclass(frozen=True, slots=True)
class Extension:
    """One extension (exact or pattern) of one context, with its priorities in order."""

    name: str
    """As Asterisk stores it: ``_9NXXNXXXXXX``, ``911`` (spaces and ``-`` removed)."""
    cid: str
    """The caller-id match after ``/`` (``exten => 911/1001,...``), or ""."""
    line: int
    """Where the extension was first written."""
    steps: tuple[Step, ...]

    def step(self, priority: int) -> Step | None:
        return next((s for s in self.steps if s.priority == priority), None)

    def labelled(self, label: str) -> Step | None:
        return next((s for s in self.steps if s.label == label), None)


@dataclass(frozen=True, slots=True)
class Include:
    context: str
    timed: bool
    """True for ``include => ctx,9:00-17:00,mon-fri,*,*``: only valid within the window."""
    line: int


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    line: int
    template: bool
    extensions: tuple[Extension, ...]
    """In the order Asterisk tries them (``asterisk_pattern.sort_key``)."""
    includes: tuple[Include, ...]
    """In the order written: Asterisk searches them after the context's own extensions."""


@dataclass(frozen=True, slots=True)
class Unverifiable:
    """A line whose dial plan lives outside this file (``#include``, ``switch =>``)."""

    line: int
    context: str
    text: str


@dataclass(frozen=True, slots=True)
class Unreadable:
    line: int
    context: str
    text: str
    why: str


@dataclass(frozen=True, slots=True)
class DialPlan:
    contexts: dict[str, Context]
    globals: dict[str, str]
    unverifiable: tuple[Unverifiable, ...]
    unreadable: tuple[Unreadable, ...]


@dataclass
class _Ext:
    name: str
    cid: str
    line: int
    steps: dict[int, Step] = field(default_factory=dict)
    last: int = 0


@dataclass
class _Ctx:
    name: str
    line: int
    template: bool = False
    extensions: dict[tuple[object, str], _Ext] = field(default_factory=dict)
    includes: list[Include] = field(default_factory=list)


def strip_comment(line: str, in_block: bool) -> tuple[str, bool]:
    """The line without comments, and whether a ``;--`` block comment is still open."""
    out: list[str] = []
    index = 0
    while index < len(line):
        if in_block:
            end = line.find("--;", index)
            if end == -1:
                return "".join(out), True
            index, in_block = end + 3, False
            continue
        char = line[index]
        if char == "\\" and line.startswith(";", index + 1):
            out.append(";")
            index += 2
            continue
        if line.startswith(";--", index):
            in_block, index = True, index + 3
            continue
        if char == ";":
            break
        out.append(char)
        index += 1
    return "".join(out), in_block


def split_args(text: str, separator: str = ",") -> list[str]:
    """Split application arguments at top-level separators (not inside ``()``, ``${}``,
    ``$[]`` or quotes)."""
    parts: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "([{":
            depth += 1
        elif not quoted and char in ")]}":
            depth = max(0, depth - 1)
        elif char == separator and depth == 0 and not quoted:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def parse(text: str) -> DialPlan:
    """Read ``extensions.conf`` text (never raises: what cannot be read is reported)."""
    contexts: dict[str, _Ctx] = {}
    global_vars: dict[str, str] = {}
    unverifiable: list[Unverifiable] = []
    unreadable: list[Unreadable] = []
    current: _Ctx | None = None
    last_ext: _Ext | None = None
    in_block = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line, in_block = strip_comment(raw, in_block)
        line = line.strip()
        if not line:
            continue
        where = current.name if current else ""
        if line.startswith("#"):
            unverifiable.append(Unverifiable(number, where, line))
            continue
        header = _HEADER.match(line)
        if header:
            current, last_ext = _open_context(contexts, header, number), None
            continue
        assign = _ASSIGN.match(line)
        if current is None or assign is None:
            unreadable.append(Unreadable(number, where, line, "not a context header or "
                                                              "'key => value' line"))
            continue
        if current.name in SETTINGS_SECTIONS:
            if current.name == "globals":
                global_vars[assign.group("key")] = assign.group("value").strip()
            continue
        key, value = assign.group("key").lower(), assign.group("value").strip()
        if key in ("exten", "same"):
            last_ext, why = _add_step(current, last_ext, key, value, number)
            if why:
                unreadable.append(Unreadable(number, current.name, line, why))
        elif key == "include":
            name, _, window = value.partition(",")
            current.includes.append(Include(name.strip(), bool(window.strip()), number))
        elif key in ("switch", "lswitch", "eswitch"):
            unverifiable.append(Unverifiable(number, current.name, line))
        elif key != "ignorepat":
            unreadable.append(Unreadable(number, current.name, line, f"unknown key {key!r}"))
    return DialPlan(
        contexts={name: _freeze(ctx) for name, ctx in contexts.items()},
        globals=global_vars,
        unverifiable=tuple(unverifiable),
        unreadable=tuple(unreadable),
    )


def _open_context(contexts: dict[str, _Ctx], header: re.Match[str], number: int) -> _Ctx:
    name = header.group("name").strip()
    options = [o.strip() for o in (header.group("options") or "").split(",") if o.strip()]
    ctx = contexts.get(name)
    if ctx is None:
        ctx = contexts[name] = _Ctx(name, number)
    for option in options:
        if option == "!":
            ctx.template = True
        elif option != "+" and option in contexts:
            # Copy the template's extensions and includes (pbx_config does at load).
            template = contexts[option]
            for key, ext in template.extensions.items():
                ctx.extensions.setdefault(key, _Ext(ext.name, ext.cid, ext.line, dict(ext.steps),
                                                    ext.last))
            ctx.includes.extend(template.includes)
    return ctx


def _add_step(ctx: _Ctx, last: _Ext | None, key: str, value: str,
              number: int) -> tuple[_Ext | None, str]:
    parts = split_args(value)
    ext: _Ext
    if key == "same":
        if last is None:
            return None, "'same =>' without an 'exten =>' before it"
        ext, rest = last, parts
    else:
        if len(parts) < 2 or not parts[0]:
            return last, "expected 'exten => NAME,PRIORITY,APPLICATION(...)'"
        name, _, cid = parts[0].partition("/")
        name = normalize(name.strip())
        store_key = (sort_key(name), cid.strip())
        found = ctx.extensions.get(store_key)
        ext = found if found is not None else _Ext(name, cid.strip(), number)
        ctx.extensions[store_key] = ext
        rest = parts[1:]
    if not rest:
        return ext, "no priority"
    priority_text = rest[0].strip()
    app_text = ",".join(rest[1:]).strip()
    match = _PRIORITY.match(priority_text)
    if match is None:
        return ext, f"priority {priority_text!r} is not a number, n or n(label)"
    base = match.group("base").lower()
    if base == "hint":
        return ext, ""
    plus = int(match.group("plus") or 0)
    priority = ext.last + 1 + plus if base.startswith("n") else int(base)
    app_match = _APP.match(app_text)
    if app_match is None:
        return ext, f"application {app_text!r} unreadable"
    ext.steps[priority] = Step(priority, match.group("label") or "", app_match.group("app"),
                               (app_match.group("args") or "").strip(), number)
    ext.last = priority
    return ext, ""


def _freeze(ctx: _Ctx) -> Context:
    ordered = sorted(ctx.extensions.items(), key=lambda item: (item[0][0], item[0][1] != ""))
    extensions = tuple(
        Extension(ext.name, ext.cid, ext.line, tuple(ext.steps[p] for p in sorted(ext.steps)))
        for _, ext in ordered
    )
    return Context(ctx.name, ctx.line, ctx.template, extensions, tuple(ctx.includes))


__all__ = [
    "SETTINGS_SECTIONS",
    "Context",
    "DialPlan",
    "Extension",
    "Include",
    "Step",
    "Unreadable",
    "Unverifiable",
    "is_pattern",
    "parse",
    "split_args",
]
