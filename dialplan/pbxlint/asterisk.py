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

from dialplan.classify import DEFAULT_CONFIG
from dialplan.config import DialPlanConfig
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
from dialplan.pbxlint.judge import (
    EMERGENCY,
    TEST,
    Attempt,
    CallPath,
    DialStep,
    Finding,
    FindingKind,
    Judge,
    LintReport,
    Route,
)

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


@dataclass
class _Budget:
    """Bounds on following one dialled number: steps run and paths kept (Goto loops)."""

    steps: int = 0
    paths: list[CallPath] = field(default_factory=list)


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
    lines = {name: ctx.line for name, ctx in plan.contexts.items()}
    return analyser.report(checked, lines, findings)


def extensions_for(plan: DialPlan, context: str, dialled: str, *, priority: int | None = 1,
                   label: str | None = None, timed: bool = True) -> list[Route[Extension]]:
    """Every extension that takes ``dialled`` from ``context`` and has ``priority`` (or the
    ``label``), in the order Asterisk tries them (``pbx_find_extension``): the context's own
    extensions in ``ext_cmp`` order, then each include in the order written, depth first, each
    context once. A matching extension without that priority does not stop the search (as in
    Asterisk's own tests/test_pbx.c). Caller-id extensions (``911/1001``) are left out; with
    ``timed`` False, so are time-limited includes."""
    out: list[Route[Extension]] = []
    stack: list[str] = []

    def search(name: str) -> None:
        if name in stack or name not in plan.contexts:
            return
        stack.append(name)
        ctx = plan.contexts[name]
        for ext in ctx.extensions:
            has = ext.labelled(label) if label is not None else ext.step(priority or 1)
            if not ext.cid and has is not None and matches(ext.name, dialled):
                out.append(Route(name, ext.name, ext.line, ext))
        for inc in ctx.includes:
            if timed or not inc.timed:
                search(inc.context)

    search(context)
    return out


def find_extension(plan: DialPlan, context: str, dialled: str, *, priority: int | None = 1,
                   label: str | None = None) -> Route[Extension] | None:
    """The extension Asterisk runs for ``dialled`` at ``priority`` (or ``label``) in
    ``context``, or None (the channel would hang up)."""
    found = extensions_for(plan, context, dialled, priority=priority, label=label)
    return found[0] if found else None


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


class _Analyser(Judge[Extension]):
    def __init__(self, plan: DialPlan, router: str, config: DialPlanConfig) -> None:
        super().__init__(router, config)
        self.plan = plan
        self.has_timed = any(inc.timed for c in plan.contexts.values() for inc in c.includes)

    # --- Asterisk's search -------------------------------------------------------------

    def routes(self, context: str, dialled: str, *, timed: bool) -> list[Route[Extension]]:
        """Every extension that takes ``dialled`` from ``context`` at priority 1, in the order
        Asterisk tries them; the first one is the one that runs."""
        return extensions_for(self.plan, context, dialled, priority=1, timed=timed)

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

    def paths(self, context: str, route: Route[Extension], dialled: str) -> list[CallPath]:
        """Every way a call dialled in ``context`` can go from ``route`` (each GotoIf forks both
        ways, as the lint cannot know the condition), first the way that follows no
        conditional jump. The channel stays in ``context`` even when ``route`` was found in an
        included context: a Goto without a context searches from there."""
        budget = _Budget()
        path = CallPath()
        self._run(context, route.item, dialled, 1, path, budget, depth=0)
        return [path, *budget.paths]

    def _run(self, context: str, ext: Extension, exten: str, priority: int, path: CallPath,
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

    def _goto(self, context: str, exten: str, args: list[str], path: CallPath, budget: _Budget,
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
        if priority.isdigit():
            hit = find_extension(self.plan, context, exten, priority=int(priority))
        else:
            hit = find_extension(self.plan, context, exten, label=priority)
        if hit is None:
            # Asterisk hangs up a channel sent to an extension (or priority) that does not
            # exist.
            return _End.STOPPED
        step = hit.item.step(int(priority)) if priority.isdigit() else hit.item.labelled(priority)
        if step is None:  # never: find_extension returns only extensions that have it
            return _End.STOPPED
        return self._run(context, hit.item, exten, step.priority, path, budget, depth + 1)

    def _dial(self, line: int, targets: str, exten: str, path: CallPath, budget: _Budget,
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
            inner = CallPath(variables=dict(path.variables))
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
