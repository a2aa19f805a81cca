"""Lint a FreeSWITCH XML dial plan: every way 911, 933, X911 or X933 would not reach the router.

Pure: ``lint_freeswitch(text, router=NAME)`` takes the text of a dial plan file (a whole
``<document>``/``<section name="dialplan">``, a ``<context>``, or an ``<include>`` of
extensions as in ``dialplan/default/*.xml``, read as the context ``default``) and returns the
same ``LintReport`` as the Asterisk reader; ``judge.Judge`` gives the verdict.

How FreeSWITCH routes (mod_dialplan_xml), as read here: the extensions of the caller's context
are tried in file order; an extension matches when each of its conditions holds (a
``destination_number`` regular expression, searched in the dialled number; a condition with no
field holds); its actions run; an extension with ``continue="true"`` adds its actions and the
search goes on. In the actions: ``set``/``export`` set variables (``$1``.. are the last
expression's captures, ``$${name}`` the ``X-PRE-PROCESS set`` variables), ``bridge`` dials
(``|`` tries the next destination when one fails, ``,`` rings several at once, ``[..]`` and
``{..}`` carry channel variables), ``transfer`` and ``loopback/`` route again, and after a
failed bridge only ``continue_on_fail=true`` lets the next action run. ``NAME`` is the gateway
(``sofia/gateway/NAME/...``) or host (``sofia/external/911@NAME``) that leads to the router.

Not read: conditions on other fields (caller id, network address, variables: such an
extension serves some callers only and is not counted as anyone's route), time conditions
(counted like Asterisk's timed includes), anti-actions, ``<regex>`` groups, ``break`` other
than the default; ``X-PRE-PROCESS include`` is reported as unverifiable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from dialplan.classify import DEFAULT_CONFIG
from dialplan.config import DialPlanConfig
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

#: The context FreeSWITCH's default configuration gives calls from outside (not phones).
INBOUND_CONTEXT = "public"
_TIME_ATTRIBUTES = frozenset({"wday", "hour", "minute", "minute-of-day", "mday", "mon", "year",
                              "yday", "week", "mweek", "time-of-day", "date-time"})
_VARIABLE = re.compile(r"\$\$\{(?P<pre>[^}]+)\}|\$\{(?P<name>[^}]+)\}|\$(?P<group>[0-9])")
_CHANNEL_VARIABLES = re.compile(r"^(?:\{[^}]*\}|\[[^\]]*\]|<[^>]*>)+")
MAX_DEPTH = 20
#: An outside number after a one-digit access prefix (NANP, 10 digits).
_OUTSIDE = "4065550123"


@dataclass(frozen=True, slots=True)
class Action:
    app: str
    data: str
    line: int


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    expression: re.Pattern[str] | None
    timed: bool
    actions: tuple[Action, ...]
    line: int


@dataclass(frozen=True, slots=True)
class Extension:
    name: str
    line: int
    continues: bool
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Taken:
    """The actions a dialled number runs: those of the ``continue`` extensions before, then
    the extension that ends the search (``extension``), with the captures of each."""

    extension: Extension
    actions: tuple[tuple[Action, tuple[str, ...]], ...]


def lint_freeswitch(
    text: str,
    *,
    router: str,
    contexts: Iterable[str] = (),
    config: DialPlanConfig = DEFAULT_CONFIG,
) -> LintReport:
    """Lint FreeSWITCH dial plan XML for the router's gateway or host ``router``."""
    named = tuple(contexts)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 0
        finding = Finding(FindingKind.UNREADABLE, line, "", "", f"not well-formed XML: {exc.msg}")
        return LintReport(router, named, (finding,))
    plan, findings = _read(root, named[0] if named else "default")
    checked = named or tuple(n for n, exts in plan.items()
                             if n != INBOUND_CONTEXT and any(_dials_out(e) for e in exts))
    judge = _FreeSwitch(plan, _preprocess_variables(root), router, config)
    lines = {name: extensions[0].line if extensions else 0 for name, extensions in plan.items()}
    return judge.report(checked, lines, findings)


def _read(root: etree._Element, fragment_context: str
          ) -> tuple[dict[str, list[Extension]], list[Finding]]:
    plan: dict[str, list[Extension]] = {}
    findings: list[Finding] = []
    for element in root.iter("X-PRE-PROCESS"):
        if element.get("cmd") in ("include", "exec"):
            findings.append(Finding(FindingKind.UNVERIFIABLE, element.sourceline or 0, "", "",
                                    f"X-PRE-PROCESS {element.get('cmd')} "
                                    f"{element.get('data')!r}: the lint cannot see the dial "
                                    "plan it adds"))
    contexts = [root] if root.tag == "context" else list(root.iter("context"))
    if not contexts:
        plan[fragment_context] = [_extension(e, findings, fragment_context)
                                  for e in root.iter("extension")]
    for context in contexts:
        name = context.get("name", "")
        plan.setdefault(name, []).extend(
            _extension(e, findings, name) for e in context.iter("extension"))
    return plan, findings


def _extension(element: etree._Element, findings: list[Finding], context: str) -> Extension:
    conditions = []
    for cond in element.iter("condition"):
        expression = cond.get("expression")
        try:
            compiled = re.compile(expression) if expression is not None else None
        except re.error as exc:
            # A PCRE feature Python's re lacks, or a broken expression: never a match here.
            findings.append(Finding(FindingKind.UNREADABLE, cond.sourceline or 0, context, "",
                                    f"expression {expression!r} cannot be read: {exc}"))
            compiled = re.compile(r"(?!)")
        conditions.append(Condition(
            field=cond.get("field", ""),
            expression=compiled,
            timed=any(name in _TIME_ATTRIBUTES for name in cond.attrib),
            actions=tuple(Action(a.get("application", ""), a.get("data", ""), a.sourceline or 0)
                          for a in cond.iter("action")),
            line=cond.sourceline or 0,
        ))
    return Extension(element.get("name", ""), element.sourceline or 0,
                     element.get("continue", "false") == "true", tuple(conditions))


def _preprocess_variables(root: etree._Element) -> dict[str, str]:
    variables = {}
    for element in root.iter("X-PRE-PROCESS"):
        if element.get("cmd") == "set":
            name, _, value = (element.get("data") or "").partition("=")
            variables[name.strip()] = value.strip()
    return variables


def _dials_out(extension: Extension) -> bool:
    for condition in extension.conditions:
        if condition.expression is not None and condition.expression.search(EMERGENCY):
            return True
        if any(a.app == "bridge" and ("gateway/" in a.data or "@" in a.data)
               for a in condition.actions):
            return True
    return False


def _matches(extension: Extension, dialled: str, *, timed: bool
             ) -> tuple[str, ...] | None:
    """The captures of the last destination_number expression when every condition holds."""
    captures: tuple[str, ...] = ()
    for condition in extension.conditions:
        if condition.timed and not timed:
            return None
        if not condition.field and condition.expression is None:
            continue
        if condition.field not in ("destination_number", "${destination_number}"):
            return None
        if condition.expression is None:
            continue
        found = condition.expression.search(dialled)
        if found is None:
            return None
        captures = (found.group(0), *(g or "" for g in found.groups()))
    return captures


class _FreeSwitch(Judge[Taken]):
    dial_word = "bridge"

    def __init__(self, plan: dict[str, list[Extension]], preprocess: dict[str, str],
                 router: str, config: DialPlanConfig) -> None:
        super().__init__(router, config)
        self.plan = plan
        self.preprocess = preprocess
        self.has_timed = any(c.timed for exts in plan.values() for e in exts
                             for c in e.conditions)

    def routes(self, context: str, dialled: str, *, timed: bool) -> list[Route[Taken]]:
        out: list[Route[Taken]] = []
        prelude: list[tuple[Action, tuple[str, ...]]] = []
        for extension in self.plan.get(context, []):
            captures = _matches(extension, dialled, timed=timed)
            if captures is None:
                continue
            actions = [(a, captures) for c in extension.conditions for a in c.actions]
            if extension.continues:
                prelude.extend(actions)
                continue
            out.append(Route(context, extension.name, extension.line,
                             Taken(extension, (*prelude, *actions))))
        return out

    def prefixes(self, context: str) -> list[str]:
        found = set()
        for extension in self.plan.get(context, []):
            for digit in "0123456789":
                captures = _matches(extension, digit + _OUTSIDE, timed=True)
                if captures and _OUTSIDE in captures[1:] and any(
                        a.app == "bridge" for c in extension.conditions for a in c.actions):
                    found.add(digit)
                # An X911/X933 route of its own (not one that also takes 911/933).
                for number in (EMERGENCY, TEST):
                    if (_matches(extension, digit + number, timed=True) is not None
                            and _matches(extension, number, timed=True) is None):
                        found.add(digit)
        return sorted(found)

    def paths(self, context: str, route: Route[Taken], dialled: str) -> list[CallPath]:
        path = CallPath()
        self._run(context, route.item, dialled, path, depth=0)
        return [path]

    def _run(self, context: str, taken: Taken, dialled: str, path: CallPath,
             depth: int) -> bool:
        """Run the actions; False when the call stops (a failed bridge without
        continue_on_fail, a hangup, a transfer)."""
        variables = path.variables
        variables.setdefault("destination_number", dialled)
        for action, captures in taken.actions:
            data = self._substitute(action.data, captures, variables)
            if action.app in ("set", "export") and data is not None and "=" in data:
                name, _, value = data.partition("=")
                variables[name.strip().removeprefix("nolocal:")] = value
            elif action.app == "bridge":
                self._bridge(action, data, context, path, depth)
                # continue_on_fail=true, or a list of causes (some failures go on): the next
                # action runs after a failed bridge; otherwise the call ends there.
                if variables.get("continue_on_fail", "false").strip().lower() in ("false", ""):
                    return False
            elif action.app == "transfer" and data is not None:
                words = data.split()
                target = words[2] if len(words) > 2 else context
                self._route_again(target, words[0] if words else "", path, depth)
                return False
            elif action.app in ("hangup", "respond"):
                return False
        return True

    def _route_again(self, context: str, dialled: str, path: CallPath, depth: int) -> None:
        routes = self.routes(context, dialled, timed=True)
        if routes and depth < MAX_DEPTH:
            inner = CallPath(variables={**path.variables, "destination_number": dialled})
            self._run(context, routes[0].item, dialled, inner, depth + 1)
            path.dials.extend(inner.dials)

    def _bridge(self, action: Action, data: str | None, context: str, path: CallPath,
                depth: int) -> None:
        if data is None:
            path.dials.append(DialStep(action.line, (Attempt(action.data, None, None),)))
            return
        for alternative in data.split("|"):
            attempts: list[Attempt] = []
            for target in alternative.split(","):
                target = _CHANNEL_VARIABLES.sub("", target.strip())
                if target.startswith("loopback/"):
                    parts = target.split("/")
                    inner = CallPath(variables=dict(path.variables))
                    self._route_again(parts[2] if len(parts) > 2 else context, parts[1],
                                      inner, depth)
                    first = inner.dials[0].attempts if inner.dials else ()
                    attempts.extend(first or (Attempt(target, None, None),))
                    continue
                attempts.append(_read_target(target))
            path.dials.append(DialStep(action.line, tuple(attempts)))

    def _substitute(self, text: str, captures: tuple[str, ...], variables: dict[str, str]
                    ) -> str | None:
        unresolved = False

        def value(match: re.Match[str]) -> str:
            nonlocal unresolved
            if match.group("group") is not None:
                index = int(match.group("group"))
                if index < len(captures):
                    return captures[index]
            elif match.group("pre") is not None and match.group("pre") in self.preprocess:
                return self.preprocess[match.group("pre")]
            elif match.group("name") is not None and match.group("name") in variables:
                return variables[match.group("name")]
            unresolved = True
            return ""

        result = _VARIABLE.sub(value, text)
        return None if unresolved else result


def _read_target(target: str) -> Attempt:
    """``sofia/gateway/NAME/911``, ``sofia/PROFILE/911@HOST:PORT``, ``user/1001@domain``."""
    parts = target.split("/")
    if len(parts) >= 4 and parts[0] == "sofia" and parts[1] == "gateway":
        number = parts[3].split("@", 1)[0]
        return Attempt(target, parts[2], number)
    if len(parts) >= 3 and parts[0] == "sofia":
        user, _, host = "/".join(parts[2:]).partition("@")
        host = host.removeprefix("sip:").split(";", 1)[0]
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return Attempt(target, host or None, user.removeprefix("sip:") or None)
    return Attempt(target, target, None)
