"""Lint an Asterisk dial plan: every way 911, 933, X911 or X933 would not reach the router.

Pure: ``lint_asterisk(text, router=NAME)`` takes the text of ``extensions.conf`` and returns a
frozen ``LintReport``; reading the file and printing are the command's job
(``router/commands/pbx.py``). docs/pbx/asterisk.md has the operator's version.

For each dialling context (below) and each dial string that must reach the router (911 and
933, and X911/X933 for each access prefix X the context uses), it finds the extension Asterisk
would run, the way Asterisk does (``pbx_find_extension``): the context's own extensions in
``ext_cmp`` order (``asterisk_pattern``), then its includes in the order written, depth first,
each context once; then it follows that extension's priorities (``Goto``, ``Gosub``,
``Dial(Local/...)``, ``Set``) to the ``Dial`` steps and reads where each one sends the call.

The first ``Dial`` must go to the router's endpoint (``router``) with a number the router reads
as 911/933 (``dialplan.classify``), alone (a fork to a carrier at the same time may be
answered by the carrier); a later ``Dial`` to another destination is the failover that keeps
911 working when the router does not answer (47 CFR 9.16: 911 must always connect).

Dialling contexts: those no other context includes or jumps to, that are not templates, and
that dial out (a ``Dial`` with a number towards an endpoint, or an emergency extension);
callers may name them instead (``contexts=``). Extensions with a caller-id match
(``911/1001``) apply to some callers only and are not used to route anyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from dialplan.classify import DEFAULT_CONFIG, CallClass, classify
from dialplan.config import DialPlanConfig
from dialplan.errors import DialPlanParseError
from dialplan.pbxlint.asterisk_conf import (
    SETTINGS_SECTIONS,
    Context,
    DialPlan,
    Extension,
    Step,
    parse,
    split_args,
)
from dialplan.pbxlint.asterisk_pattern import accepts_length, first_literal_digit, matches

EMERGENCY = "911"
TEST = "933"
#: Steps followed from one dialled extension before giving up (a Goto loop).
MAX_STEPS = 200
#: Shortest outside number after an access prefix (7-digit local dialling).
OUTSIDE_MIN_DIGITS = 7

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_()]*)(?::(?P<offset>-?\d+)"
                       r"(?::(?P<length>-?\d+))?)?\}")
_GLOBAL_FN = re.compile(r"GLOBAL\((?P<name>[A-Za-z_][A-Za-z0-9_]*)\)")
_STOP_APPS = frozenset({"hangup", "congestion", "busy"})
#: Nested Goto/Gosub/Local levels followed before giving up.
MAX_DEPTH = 20
#: Ways through one extension kept (each GotoIf adds one).
MAX_PATHS = 32


class _End(StrEnum):
    FELL_OFF = "fell_off"
    RETURNED = "returned"
    STOPPED = "stopped"


class FindingKind(StrEnum):
    """Why a dial string would not reach the router (docs/pbx/asterisk.md, "The lint")."""

    SHADOWED = "shadowed"
    """Another extension takes the number before the route that reaches the router."""
    BYPASSES_ROUTER = "bypasses_router"
    """The first Dial goes to another endpoint, or forks to one at the same time."""
    NUMBER_CHANGED = "number_changed"
    """The router is dialled, but with a number it does not read as 911/933."""
    NO_ROUTE = "no_route"
    """No extension takes 911 (or 933) in this context, with or without a prefix."""
    NEEDS_PREFIX = "needs_prefix"
    """911 works only behind an access prefix (Kari's Law: direct dialling, 47 CFR 9.16(a))."""
    NO_PREFIX_ROUTE = "no_prefix_route"
    """An access prefix X is used for outside calls but X911 (or X933) goes nowhere."""
    DEAD_END = "dead_end"
    """The extension that takes the number never dials (Hangup, Playback, a missing Goto)."""
    UNRESOLVED_DIAL = "unresolved_dial"
    """The Dial target depends on something this file does not set (a variable, a function)."""
    NO_FAILOVER = "no_failover"
    """Nothing dials another destination after the router: 911 dies with the router."""
    TIMED_ROUTE = "timed_route"
    """The route exists only through a time-limited include."""
    UNVERIFIABLE = "unverifiable"
    """``#include``, ``#exec`` or ``switch =>``: dial plan the lint cannot see."""
    UNREADABLE = "unreadable"
    """A line Asterisk would not load as written."""


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    line: int
    """Where to look: the extension (or line) that takes the call, or the context."""
    context: str
    dial: str
    """The dialled string (``911``, ``9911``) or "" for a line-level finding."""
    message: str
    related_line: int | None = None
    """The other line involved (the route that was shadowed), if any."""

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "line": self.line,
            "context": self.context,
            "dial": self.dial,
            "message": self.message,
            "related_line": self.related_line,
        }


@dataclass(frozen=True, slots=True)
class LintReport:
    router: str
    contexts: tuple[str, ...]
    """The dialling contexts checked."""
    findings: tuple[Finding, ...]

    @property
    def clean(self) -> bool:
        return not self.findings


@dataclass(frozen=True, slots=True)
class Attempt:
    """One destination of one Dial step."""

    target: str
    """The target as it reads after substitution (``PJSIP/911@router``)."""
    endpoint: str | None
    """The endpoint/peer/trunk name, or None when unresolved."""
    number: str | None
    """The number sent, or None when the dial string carries none."""


@dataclass(frozen=True, slots=True)
class DialStep:
    line: int
    attempts: tuple[Attempt, ...]
    """Several attempts in one step ring at the same time (``&``)."""


@dataclass(frozen=True, slots=True)
class Hit:
    context: str
    extension: Extension


@dataclass
class _Path:
    """One way through the dial plan (a GotoIf forks it): its Dial steps and variables."""

    dials: list[DialStep] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)

    def fork(self) -> _Path:
        return _Path(list(self.dials), dict(self.variables))


@dataclass
class _Budget:
    """Bounds on following one dialled number: steps run and paths kept (Goto loops)."""

    steps: int = 0
    paths: list[_Path] = field(default_factory=list)


def lint_asterisk(
    text: str,
    *,
    router: str,
    contexts: Iterable[str] = (),
    config: DialPlanConfig = DEFAULT_CONFIG,
) -> LintReport:
    """Lint ``extensions.conf`` text for the router's endpoint ``router``."""
    plan = parse(text)
    checked = tuple(contexts) or dialling_contexts(plan)
    findings: list[Finding] = []
    for item in plan.unverifiable:
        findings.append(Finding(FindingKind.UNVERIFIABLE, item.line, item.context, "",
                                f"{item.text!r}: the lint cannot see the dial plan it adds"))
    for bad in plan.unreadable:
        findings.append(Finding(FindingKind.UNREADABLE, bad.line, bad.context, "",
                                f"{bad.text!r}: {bad.why}"))
    analyser = _Analyser(plan, router, config)
    for name in checked:
        if name not in plan.contexts:
            findings.append(Finding(FindingKind.NO_ROUTE, 0, name, "",
                                    f"context {name!r} is not in this file"))
            continue
        findings.extend(analyser.context_findings(name))
    unique = sorted(dict.fromkeys(findings), key=lambda f: (f.line, f.context, f.dial, f.kind))
    return LintReport(router, checked, tuple(unique))


def dialling_contexts(plan: DialPlan) -> tuple[str, ...]:
    """Contexts phones dial from: not included or jumped to, not templates, dialling out."""
    reached: set[str] = set()
    for ctx in plan.contexts.values():
        reached.update(inc.context for inc in ctx.includes)
        for ext in ctx.extensions:
            for step in ext.steps:
                reached.update(_named_contexts(step))
    roots = []
    for name, ctx in plan.contexts.items():
        if name in SETTINGS_SECTIONS or ctx.template or name in reached:
            continue
        if name.lower().startswith("macro-"):
            continue
        if any(_dials_out(c) for c in _closure(plan, name)):
            roots.append(name)
    return tuple(roots)


def _closure(plan: DialPlan, name: str) -> Iterator[Context]:
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in seen or current not in plan.contexts:
            continue
        seen.add(current)
        ctx = plan.contexts[current]
        yield ctx
        pending.extend(inc.context for inc in ctx.includes)


def _dials_out(ctx: Context) -> bool:
    for ext in ctx.extensions:
        if ext.name.lstrip("_") in (EMERGENCY, TEST) or ext.name.endswith(("911", "933")):
            return True
        for step in ext.steps:
            if step.app.lower() == "dial":
                target = split_args(step.args)[0]
                if "@" in target or target.count("/") >= 2:
                    return True
    return False


def _named_contexts(step: Step) -> set[str]:
    """Contexts a Goto/Gosub/Dial(Local/...) names explicitly."""
    app = step.app.lower()
    args = split_args(step.args)
    if app in ("goto", "gosub") and len(args) == 3:
        return {args[0]}
    if app in ("gotoif", "gotoiftime", "gosubif"):
        labels = [split_args(b) for b in _branches(step.args) if b]
        return {parts[0] for parts in labels if len(parts) == 3}
    if app == "dial":
        return {m.group(1) for m in re.finditer(r"Local/[^@&,]*@([^/&,]+)", step.args, re.I)}
    return set()


class _Analyser:
    def __init__(self, plan: DialPlan, router: str, config: DialPlanConfig) -> None:
        self.plan = plan
        self.router = router
        self.config = config
        self.has_timed = any(inc.timed for c in plan.contexts.values() for inc in c.includes)

    # --- Asterisk's search -------------------------------------------------------------

    def candidates(self, context: str, dialled: str, *, timed: bool) -> list[Hit]:
        """Every extension that takes ``dialled`` from ``context``, in the order Asterisk
        tries them; the first one is the one that runs."""
        out: list[Hit] = []
        stack: list[str] = []

        def search(name: str) -> None:
            if name in stack or name not in self.plan.contexts:
                return
            stack.append(name)
            ctx = self.plan.contexts[name]
            for ext in ctx.extensions:
                if not ext.cid and ext.step(1) is not None and matches(ext.name, dialled):
                    out.append(Hit(name, ext))
            for inc in ctx.includes:
                if timed or not inc.timed:
                    search(inc.context)

        search(context)
        return out

    def prefixes(self, context: str) -> list[str]:
        """Access prefixes the context uses: an X911/X933 extension, or a pattern that starts
        with one digit, takes an outside number after it and strips that digit before
        dialling (``_9NXXNXXXXXX`` with ``${EXTEN:1}``). A leading digit that is kept
        (``_1NXXNXXXXXX`` dialled as is) is part of the number, not an access prefix."""
        found: set[str] = set()
        for ctx in _closure(self.plan, context):
            for ext in ctx.extensions:
                digit = first_literal_digit(ext.name)
                if digit is None:
                    continue
                name = ext.name
                if not name.startswith("_"):
                    if len(name) == 4 and name[1:] in (EMERGENCY, TEST):
                        found.add(digit)
                    continue
                outside = any(accepts_length(name, 1 + n) for n in range(OUTSIDE_MIN_DIGITS, 16))
                strips = any("${EXTEN:1" in step.args for step in ext.steps)
                if outside and strips:
                    found.add(digit)
        return sorted(found)

    # --- following one extension ---------------------------------------------------------

    def walk(self, context: str, hit: Hit, dialled: str) -> list[_Path]:
        """Every way a call dialled in ``context`` can go from ``hit`` (each GotoIf forks both
        ways, as the lint cannot know the condition), first the way that follows no
        conditional jump. The channel stays in ``context`` even when ``hit`` was found in an
        included context: a Goto without a context searches from there."""
        budget = _Budget()
        path = _Path()
        self._run(context, hit.extension, dialled, 1, path, budget, depth=0)
        return [path, *budget.paths]

    def _run(self, context: str, ext: Extension, exten: str, priority: int, path: _Path,
             budget: _Budget, depth: int) -> _End:
        """Run the priorities from ``priority`` on; say how the run ended."""
        step = ext.step(priority)
        while step is not None and budget.steps < MAX_STEPS:
            budget.steps += 1
            app = step.app.lower()
            args = split_args(step.args)
            if app == "return":
                return _End.RETURNED
            if app in _STOP_APPS:
                return _End.STOPPED
            if app == "set" and args and "=" in args[0]:
                name, _, value = step.args.partition("=")
                resolved = self._substitute(value.strip(), exten, path.variables)
                if resolved is not None and "(" not in name:
                    path.variables[name.strip().lstrip("_")] = resolved
            elif app == "dial" and args and args[0]:
                self._dial(step.line, args[0], exten, path, budget, depth)
            elif app in ("gotoif", "gotoiftime"):
                taken, otherwise = _branches(step.args)
                if taken and len(budget.paths) < MAX_PATHS:
                    branch = path.fork()
                    self._goto(context, exten, split_args(taken), branch, budget, depth)
                    budget.paths.append(branch)
                if otherwise:
                    return self._goto(context, exten, split_args(otherwise), path, budget,
                                      depth)
            elif app in ("goto", "gosub"):
                ended = self._goto(context, exten, args, path, budget, depth)
                # Goto never comes back; Gosub comes back on Return (or running off its end).
                if app == "goto" or ended is _End.STOPPED:
                    return ended
            step = next((s for s in ext.steps if s.priority > step.priority), None)
        return _End.FELL_OFF

    def _goto(self, context: str, exten: str, args: list[str], path: _Path, budget: _Budget,
              depth: int) -> _End:
        """Goto/Gosub([[context,]exten,]priority): run there."""
        values = [self._substitute(a, exten, path.variables) for a in args]
        texts = [v for v in values if v is not None]
        if not texts or len(texts) != len(values) or depth > MAX_DEPTH:
            return _End.STOPPED
        priority = texts[-1].split("(", 1)[0]  # Gosub(ctx,s,1(arg1,arg2))
        if len(texts) >= 3:
            context, exten = texts[0], texts[1]
        elif len(texts) == 2:
            exten = texts[0]
        hits = self.candidates(context, exten, timed=True)
        if not hits:
            # Asterisk hangs up a channel sent to an extension that does not exist.
            return _End.STOPPED
        hit = hits[0]
        if priority.isdigit():
            number = int(priority)
        else:
            labelled = hit.extension.labelled(priority)
            if labelled is None:
                return _End.STOPPED
            number = labelled.priority
        return self._run(context, hit.extension, exten, number, path, budget, depth + 1)

    def _dial(self, line: int, targets: str, exten: str, path: _Path, budget: _Budget,
              depth: int) -> None:
        """Add one Dial step; a ``Local/EXTEN@context`` target runs that extension as a
        channel of its own, whose first Dial rings in this step and whose later Dials are
        its own failover (they follow this step)."""
        attempts: list[Attempt] = []
        later: list[DialStep] = []
        for raw in split_args(targets, "&"):
            target = self._substitute(raw, exten, path.variables)
            if target is None:
                attempts.append(Attempt(raw, None, None))
                continue
            tech, _, resource = target.partition("/")
            if tech.lower() != "local":
                attempts.append(_read_target(tech, resource, target))
                continue
            local_exten, _, rest = resource.partition("@")
            inner = _Path(variables=dict(path.variables))
            self._goto("", local_exten, [rest.split("/", 1)[0], local_exten, "1"], inner,
                       _Budget(steps=budget.steps), depth + 1)
            if not inner.dials:
                attempts.append(Attempt(target, None, None))
                continue
            attempts.extend(inner.dials[0].attempts)
            later.extend(inner.dials[1:])
        path.dials.append(DialStep(line, tuple(attempts)))
        path.dials.extend(later)

    def _substitute(self, text: str, exten: str, variables: dict[str, str]) -> str | None:
        """``${EXTEN}``, ``${EXTEN:1}``, ``${VAR}``, ``${GLOBAL(VAR)}``; None if anything
        else (a function, an expression) is needed."""
        unresolved = False

        def value(match: re.Match[str]) -> str:
            nonlocal unresolved
            name = match.group("name")
            glob = _GLOBAL_FN.fullmatch(name)
            if name == "EXTEN":
                base: str | None = exten
            elif glob:
                base = self.plan.globals.get(glob.group("name"))
            else:
                base = variables.get(name, self.plan.globals.get(name))
            if base is None:
                unresolved = True
                return ""
            return _substring(base, match.group("offset"), match.group("length"))

        result = _VARIABLE.sub(value, text)
        if unresolved or "${" in result or "$[" in result:
            return None
        return result

    # --- judging ----------------------------------------------------------------------

    def expected(self, dialled: str) -> CallClass:
        return CallClass.EMERGENCY if dialled.endswith(EMERGENCY) else CallClass.EMERGENCY_TEST

    def verdict(self, paths: list[_Path], dialled: str
                ) -> tuple[FindingKind, str, int | None] | None:
        """What is wrong with the call's ways, or None when every way that dials reaches the
        router first."""
        dialling = [p for p in paths if p.dials]
        if not dialling:
            return FindingKind.DEAD_END, "never dials", None
        for path in dialling:
            wrong = self._first_dial(path.dials[0], dialled)
            if wrong is not None:
                return wrong
        return None

    def _first_dial(self, first: DialStep, dialled: str
                    ) -> tuple[FindingKind, str, int | None] | None:
        others = [a for a in first.attempts if a.endpoint != self.router]
        unresolved = [a for a in others if a.endpoint is None]
        if unresolved:
            return (FindingKind.UNRESOLVED_DIAL,
                    f"the lint cannot tell where Dial({unresolved[0].target}) goes (a variable "
                    "or function this file does not set, or a Local channel to nowhere)",
                    first.line)
        names = ", ".join(sorted({a.endpoint or "" for a in others}))
        if others and len(others) == len(first.attempts):
            return (FindingKind.BYPASSES_ROUTER,
                    f"the first Dial sends it to {names}, not to {self.router}", first.line)
        if others:
            return (FindingKind.BYPASSES_ROUTER,
                    f"the first Dial rings {self.router} and {names} at the same time: "
                    f"{names} may answer first", first.line)
        expected = self.expected(dialled)
        for attempt in first.attempts:
            if not _reads_as(attempt.number, expected, self.config):
                sent = attempt.number if attempt.number is not None else "no number"
                return (FindingKind.NUMBER_CHANGED,
                        f"{self.router} is dialled with {sent!r}, which it does not read as "
                        f"{expected.value}", first.line)
        return None

    def has_failover(self, paths: list[_Path]) -> bool:
        return any(a.endpoint not in (None, self.router)
                   for path in paths for step in path.dials[1:] for a in step.attempts)

    # --- one context -----------------------------------------------------------------

    def context_findings(self, context: str) -> list[Finding]:
        findings: list[Finding] = []
        modes = (True, False) if self.has_timed else (True,)
        prefixes = self.prefixes(context)
        line = self.plan.contexts[context].line
        for number in (EMERGENCY, TEST):
            dials = [number] + [p + number for p in prefixes]
            for timed in modes:
                findings.extend(self._dial_findings(context, number, dials, line, timed))
        return findings

    def _dial_findings(self, context: str, number: str, dials: list[str], line: int,
                       timed: bool) -> list[Finding]:
        findings: list[Finding] = []
        routed = {d: self.candidates(context, d, timed=timed) for d in dials}
        for dialled, hits in routed.items():
            if not hits:
                if not timed and self.candidates(context, dialled, timed=True):
                    findings.append(Finding(
                        FindingKind.TIMED_ROUTE, line, context, dialled,
                        f"{dialled} has a route only through a time-limited include: outside "
                        "its window it goes nowhere"))
                elif dialled == number:
                    if any(routed[d] for d in dials[1:]):
                        findings.append(Finding(
                            FindingKind.NEEDS_PREFIX, line, context, dialled,
                            f"{number} works only behind an access prefix: Kari's Law "
                            "(47 CFR 9.16(a)) requires direct dialling without one"))
                    else:
                        findings.append(Finding(FindingKind.NO_ROUTE, line, context, dialled,
                                                f"no extension takes {number}"))
                else:
                    findings.append(Finding(
                        FindingKind.NO_PREFIX_ROUTE, line, context, dialled,
                        f"access prefix {dialled[0]} is used for outside calls but "
                        f"{dialled} goes nowhere"))
                continue
            findings.extend(self._route_findings(context, dialled, hits))
        return findings

    def _route_findings(self, context: str, dialled: str, hits: list[Hit]) -> list[Finding]:
        first = hits[0]
        walk = self.walk(context, first, dialled)
        wrong = self.verdict(walk, dialled)
        where = f"{first.extension.name} in [{first.context}]"
        if wrong is None:
            if self.has_failover(walk):
                return []
            return [Finding(FindingKind.NO_FAILOVER, first.extension.line, context, dialled,
                            f"{where} dials only {self.router}: when the router does not "
                            "answer nothing else is tried (add a Dial to the carrier's E911 "
                            "trunk after it)")]
        kind, why, _ = wrong
        for later in hits[1:]:
            if self.verdict(self.walk(context, later, dialled), dialled) is None:
                return [Finding(
                    FindingKind.SHADOWED, first.extension.line, context, dialled,
                    f"{where} takes {dialled} before the route to {self.router} "
                    f"({later.extension.name} in [{later.context}]) and {why}",
                    related_line=later.extension.line)]
        return [Finding(kind, first.extension.line, context, dialled, f"{where}: {why}")]


def _branches(args: str) -> tuple[str, str]:
    """``GotoIf(cond?[true]:[false])`` (and GotoIfTime) -> (true, false) labels."""
    depth = 0
    for index, char in enumerate(args):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "?" and depth == 0:
            taken, _, otherwise = args[index + 1 :].partition(":")
            return taken.strip(), otherwise.strip()
    return "", ""


def _substring(value: str, offset: str | None, length: str | None) -> str:
    """Asterisk's ``${VAR:offset:length}`` (negative offset counts from the end; negative
    length leaves that many characters off the end)."""
    if offset is None:
        return value
    start = int(offset)
    sliced = value[start:] if start >= 0 else value[len(value) + start:]
    if length is None:
        return sliced
    return sliced[: int(length)]


def _read_target(tech: str, resource: str, target: str) -> Attempt:
    """``PJSIP/911@router``, ``PJSIP/router/sip:911@host``, ``PJSIP/router``,
    ``SIP/router/911``, ``IAX2/peer/911`` -> endpoint and number."""
    if "@" in resource and not resource.split("@", 1)[0].count("/"):
        number, _, endpoint = resource.partition("@")
        return Attempt(target, endpoint.split("/", 1)[0], number)
    endpoint, _, rest = resource.partition("/")
    if not rest:
        return Attempt(target, endpoint if tech.upper() in ("PJSIP", "SIP", "IAX2")
                       else target, None)
    if rest.lower().startswith(("sip:", "sips:")):
        user = rest.split(":", 1)[1].split("@", 1)[0] if "@" in rest else None
        return Attempt(target, endpoint, user)
    if tech.upper() in ("PJSIP", "SIP", "IAX2"):
        return Attempt(target, endpoint, rest)
    return Attempt(target, f"{tech}/{endpoint}", rest)


def _reads_as(number: str | None, expected: CallClass, config: DialPlanConfig) -> bool:
    if not number:
        return False
    try:
        return classify(number, config).call_class is expected
    except DialPlanParseError:
        return False
