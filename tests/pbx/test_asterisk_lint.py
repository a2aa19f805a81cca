"""The dial-plan lint over its corpus (Asterisk .conf, FreeSWITCH .xml): every bad plan gives
exactly the findings its header names (kind, line, dialled string), every good plan none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dialplan.pbxlint import FindingKind, LintReport, lint_asterisk, lint_freeswitch

CORPUS = Path(__file__).parent / "corpus"
ROUTER = "e911-router"
PLANS = sorted([*CORPUS.glob("*.conf"), *CORPUS.glob("*.xml")])
_HEADER = re.compile(r"^(?:;|<!--)\s*(expect|router):\s*(.*?)\s*(?:-->)?$")


def header(path: Path, key: str) -> list[str]:
    """The values of `; KEY: ...` (Asterisk) or `<!-- KEY: ... -->` (XML) header lines."""
    found = []
    for line in path.read_text().splitlines():
        match = _HEADER.match(line)
        if match and match.group(1) == key:
            found.append(match.group(2))
    return found


def expected_findings(path: Path) -> set[tuple[str, int, str]]:
    """The `expect: KIND LINE DIAL` header lines of a corpus file (`expect: clean` for none)."""
    found: set[tuple[str, int, str]] = set()
    clean = False
    for value in header(path, "expect"):
        if value == "clean":
            clean = True
            continue
        kind, number, dial = value.split()
        found.add((FindingKind(kind).value, int(number), dial))
    assert clean != bool(found), f"{path.name}: say 'clean' or list findings, not both"
    return found


def lint_plan(path: Path) -> LintReport:
    """The plan linted as the command would, for its `router:` header or e911-router."""
    routers = [value.split()[0] for value in header(path, "router")]
    lint = lint_freeswitch if path.suffix == ".xml" else lint_asterisk
    return lint(path.read_text(), router=routers[0] if routers else ROUTER)


def test_corpus_has_at_least_15_plans_good_and_bad() -> None:
    """The corpus the issue asks for: 15 or more plans, both kinds."""
    assert len(PLANS) >= 15
    assert any(p.name.startswith("good-") for p in PLANS)
    assert any(p.name.startswith("bad-") for p in PLANS)


@pytest.mark.parametrize("path", PLANS, ids=[p.stem for p in PLANS])
def test_lint_reports_exactly_what_the_plan_header_expects(path: Path) -> None:
    """Good plans are clean; bad plans give exactly the findings named in their header."""
    report = lint_plan(path)
    got = {(f.kind.value, f.line, f.dial or "-") for f in report.findings}
    assert got == expected_findings(path)
    assert report.clean is path.name.startswith("good-")


def test_every_finding_kind_is_in_the_corpus() -> None:
    """Each rule has a plan in the corpus that trips it."""
    kinds = {kind for p in PLANS for kind, _, _ in expected_findings(p)}
    assert set(FindingKind) - {FindingKind(k) for k in kinds} == set()


def test_shadowed_finding_names_the_route_it_hides() -> None:
    """A shadowed 911 points at the pattern that takes it and at the route it hides."""
    report = lint_asterisk((CORPUS / "bad-shadowed-by-include-order.conf").read_text(),
                           router=ROUTER)
    shadowed = next(f for f in report.findings if f.kind is FindingKind.SHADOWED)
    assert (shadowed.line, shadowed.related_line, shadowed.context) == (8, 11, "from-internal")
    assert shadowed.message.startswith("_X. in [from-internal] takes 911 before the route to "
                                       "e911-router (911 in [emergency])")


def test_another_router_name_turns_a_good_plan_into_bypasses() -> None:
    """The router is whatever endpoint --router names: the same plan read for another name
    sends 911 and 933 elsewhere."""
    report = lint_asterisk((CORPUS / "good-direct-routes.conf").read_text(), router="other")
    assert {(f.kind, f.dial) for f in report.findings} == {
        (FindingKind.BYPASSES_ROUTER, "911"), (FindingKind.BYPASSES_ROUTER, "933")}


def test_named_contexts_replace_the_guess() -> None:
    """--context checks the contexts named, and says so when one is not in the file."""
    text = (CORPUS / "good-template.conf").read_text()
    report = lint_asterisk(text, router=ROUTER, contexts=["site-a", "nowhere"])
    assert report.contexts == ("site-a", "nowhere")
    assert [(f.kind, f.context) for f in report.findings] == [(FindingKind.NO_ROUTE, "nowhere")]


def test_no_failover_message_says_what_to_add() -> None:
    """The no_failover finding names the extension, the router and the Dial to add."""
    report = lint_asterisk((CORPUS / "bad-no-failover.conf").read_text(), router=ROUTER)
    assert report.findings[0].message == (
        "911 in [from-internal] dials only e911-router: when the router does not answer "
        "nothing else is tried (add a Dial to the carrier's E911 trunk after it)")
