"""docs/ says what the code does (issue 14): the facts a reader looks up, read from the pages
and compared with the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

from dialplan import CallClass, classify
from router.call.admission import BRIDGE_SLOTS, SlotPolicy
from router.call.plan import Action, RoutingPolicy, plan_call
from router.location.model import CallerContext, Unlocated, UnlocatedReason
from router.location.validate import _FORBIDDEN

DOCS = Path(__file__).resolve().parents[2] / "docs"
POLICY = RoutingPolicy(trunk_psap=("sip:psap.example",),
                       trunk_sorting_center=("sip:sorting.example",), trunk_test=(),
                       trunk_outbound="sip:carrier.example")


def _between(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end, text.index(start))]


def _documented_codepoints(text: str) -> set[int]:
    """Every `U+XXXX` and `U+XXXX-U+YYYY` in `text`, and the backticked `<` and `>`."""
    points: set[int] = set()
    for first, last in re.findall(r"U\+([0-9A-F]{4,6})(?:-U\+([0-9A-F]{4,6}))?", text):
        points.update(range(int(first, 16), int(last or first, 16) + 1))
    points.update(ord(ch) for ch in re.findall(r"`([<>])`", text))
    return points


def test_address_validation_doc_names_exactly_the_refused_characters() -> None:
    """Stage 1 of address-validation.md lists the characters the validator refuses, no more,
    no fewer."""
    stage = _between((DOCS / "address-validation.md").read_text(),
                     "1. **Characters and lengths**", "2. **Fields.**")
    refused = {cp for cp in range(0x110000) if _FORBIDDEN.fullmatch(chr(cp))}
    assert _documented_codepoints(stage) == refused


def test_docs_give_the_404_that_an_undialable_number_gets() -> None:
    """dialplan.md and architecture.md name the status and reason plan_call answers an
    invalid number with."""
    plan = plan_call(classify("sip:alice@example.com"), Unlocated(UnlocatedReason.NO_BINDING),
                     CallerContext(loaded=True), POLICY)
    assert (plan.call_class, plan.action) == (CallClass.INVALID, Action.REJECT)
    answer = f"{plan.status} {plan.reason}"
    assert answer == "404 Not a dialable number"
    dialplan_md = (DOCS / "dialplan.md").read_text()
    assert f"| `invalid` | readable, but not something we can dial | refused: `{answer}` |" \
        in dialplan_md
    assert f"`{answer}`" in (DOCS / "architecture.md").read_text()


def test_architecture_doc_gives_the_emergency_bridges_a_worker_holds() -> None:
    """architecture.md's bridge count is what SlotPolicy allows."""
    policy = SlotPolicy()
    bridges = 0
    while policy.can_bridge_emergency(bridges * BRIDGE_SLOTS):
        bridges += 1
    assert bridges == 1
    text = " ".join((DOCS / "architecture.md").read_text().split())
    assert "holds **at most one emergency bridge**" in text
    assert "2 emergency bridges" not in text
