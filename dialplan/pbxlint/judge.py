"""The verdict shared by every dial-plan reader: given the routes a PBX would try for 911, 933,
X911 and X933 and where each one sends the call, what keeps the call from the router.

Pure. A reader (``asterisk.py``) says, for a context and a dialled string, which routes take
it in the order the PBX tries them (``routes``), where each one can send it (``paths``: the
dial steps of each way through it) and which access prefixes the context uses (``prefixes``);
``Judge.context_findings`` turns that into findings. The first dial step must reach the router
alone with a number the router reads as 911/933 (``dialplan.classify``); a later step to
another destination is the failover (47 CFR 9.16: 911 must always connect).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from dialplan.classify import CallClass, classify
from dialplan.config import DialPlanConfig
from dialplan.errors import DialPlanParseError

EMERGENCY = "911"
TEST = "933"
T = TypeVar("T")


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
class Route(Generic[T]):
    """One extension that takes the dialled string: where it lives and the reader's own
    representation of it (``item``)."""

    context: str
    name: str
    line: int
    item: T


@dataclass
class CallPath:
    """One way through the dial plan (a GotoIf forks it): its Dial steps and variables."""

    dials: list[DialStep] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)

    def fork(self) -> CallPath:
        return CallPath(list(self.dials), dict(self.variables))


Problem = tuple[FindingKind, str]


class Judge(ABC, Generic[T]):
    """What keeps 911/933 from the router in one context, for any dial-plan reader."""

    #: The application that places a call, as the PBX names it (for messages).
    dial_word = "Dial"
    #: True when some route is only valid at times (Asterisk's timed includes).
    has_timed = False

    def __init__(self, router: str, config: DialPlanConfig) -> None:
        self.router = router
        self.config = config

    @abstractmethod
    def routes(self, context: str, dialled: str, *, timed: bool) -> list[Route[T]]:
        """Every route that takes ``dialled`` in ``context``, in the order the PBX tries them;
        with ``timed`` False, routes valid only at times are left out."""

    @abstractmethod
    def paths(self, context: str, route: Route[T], dialled: str) -> list[CallPath]:
        """Every way the call can go once ``route`` takes it."""

    @abstractmethod
    def prefixes(self, context: str) -> list[str]:
        """The one-digit access prefixes ``context`` uses for outside calls."""

    def expected(self, dialled: str) -> CallClass:
        return CallClass.EMERGENCY if dialled.endswith(EMERGENCY) else CallClass.EMERGENCY_TEST

    def verdict(self, paths: list[CallPath], dialled: str) -> Problem | None:
        """What is wrong with the call's ways, or None when every way that dials reaches the
        router first."""
        dialling = [p for p in paths if p.dials]
        if not dialling:
            return FindingKind.DEAD_END, "never dials"
        for path in dialling:
            wrong = self._first_dial(path.dials[0], dialled)
            if wrong is not None:
                return wrong
        return None

    def _first_dial(self, first: DialStep, dialled: str) -> Problem | None:
        others = [a for a in first.attempts if a.endpoint != self.router]
        unresolved = [a for a in others if a.endpoint is None]
        if unresolved:
            return (FindingKind.UNRESOLVED_DIAL,
                    f"the lint cannot tell where {self.dial_word}({unresolved[0].target}) goes "
                    "(a variable or function this file does not set, or a local channel to "
                    "nowhere)")
        names = ", ".join(sorted({a.endpoint or "" for a in others}))
        if others and len(others) == len(first.attempts):
            return (FindingKind.BYPASSES_ROUTER,
                    f"the first {self.dial_word} sends it to {names}, not to {self.router}")
        if others:
            return (FindingKind.BYPASSES_ROUTER,
                    f"the first {self.dial_word} rings {self.router} and {names} at the same "
                    f"time: {names} may answer first")
        expected = self.expected(dialled)
        for attempt in first.attempts:
            if not _reads_as(attempt.number, expected, self.config):
                sent = attempt.number if attempt.number is not None else "no number"
                return (FindingKind.NUMBER_CHANGED,
                        f"{self.router} is dialled with {sent!r}, which it does not read as "
                        f"{expected.value}")
        return None

    def has_failover(self, paths: list[CallPath]) -> bool:
        return any(a.endpoint not in (None, self.router)
                   for path in paths for step in path.dials[1:] for a in step.attempts)

    # --- one context -----------------------------------------------------------------

    def report(self, checked: tuple[str, ...], lines: dict[str, int],
               findings: list[Finding]) -> LintReport:
        """The report for the contexts ``checked`` (``lines``: where each context of the file
        is written), after the file's own ``findings`` (unreadable lines, ...)."""
        found = list(findings)
        for name in checked:
            if name not in lines:
                found.append(Finding(FindingKind.NO_ROUTE, 0, name, "",
                                     f"context {name!r} is not in this file"))
                continue
            found.extend(self.context_findings(name, lines[name]))
        unique = sorted(dict.fromkeys(found), key=lambda f: (f.line, f.context, f.dial, f.kind))
        return LintReport(self.router, checked, tuple(unique))

    def context_findings(self, context: str, line: int) -> list[Finding]:
        """The findings for ``context`` (written at ``line``)."""
        findings: list[Finding] = []
        modes = (True, False) if self.has_timed else (True,)
        prefixes = self.prefixes(context)
        for number in (EMERGENCY, TEST):
            dials = [number] + [p + number for p in prefixes]
            for timed in modes:
                findings.extend(self._dial_findings(context, number, dials, line, timed))
        return findings

    def _dial_findings(self, context: str, number: str, dials: list[str], line: int,
                       timed: bool) -> list[Finding]:
        findings: list[Finding] = []
        routed = {d: self.routes(context, d, timed=timed) for d in dials}
        for dialled, hits in routed.items():
            if not hits:
                if not timed and self.routes(context, dialled, timed=True):
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

    def _route_findings(self, context: str, dialled: str, hits: list[Route[T]]) -> list[Finding]:
        first = hits[0]
        walk = self.paths(context, first, dialled)
        wrong = self.verdict(walk, dialled)
        where = f"{first.name} in [{first.context}]"
        if wrong is None:
            if self.has_failover(walk):
                return []
            return [Finding(FindingKind.NO_FAILOVER, first.line, context, dialled,
                            f"{where} dials only {self.router}: when the router does not "
                            f"answer nothing else is tried (add a {self.dial_word} to the "
                            "carrier's E911 trunk after it)")]
        kind, why = wrong
        for later in hits[1:]:
            if self.verdict(self.paths(context, later, dialled), dialled) is None:
                return [Finding(
                    FindingKind.SHADOWED, first.line, context, dialled,
                    f"{where} takes {dialled} before the route to {self.router} "
                    f"({later.name} in [{later.context}]) and {why}",
                    related_line=later.line)]
        return [Finding(kind, first.line, context, dialled, f"{where}: {why}")]




def _reads_as(number: str | None, expected: CallClass, config: DialPlanConfig) -> bool:
    if not number:
        return False
    try:
        return classify(number, config).call_class is expected
    except DialPlanParseError:
        return False
