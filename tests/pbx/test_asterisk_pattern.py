"""Asterisk extension order and matching, as main/pbx.c's ext_cmp and _extension_match_core
define them (the scores are the ones pbx.c documents above ext_cmp_pattern_pos)."""

from __future__ import annotations

import pytest

from dialplan.pbxlint.asterisk import find_extension
from dialplan.pbxlint.asterisk_conf import parse
from dialplan.pbxlint.asterisk_pattern import matches, normalize, sort_key


def test_asterisk_order_exact_first_then_by_position_specificity() -> None:
    """Exact extensions come first; patterns sort position by position, the smaller set
    first (literal < [set] < N < X), then '.', '!' and the end of the pattern."""
    names = ["_X", "_X!", "_X.", "_X11", "_N11", "_[1-5]11", "_[13]1", "_[12]1", "_9.",
             "_9XX", "_911", "911"]
    assert sorted(names, key=sort_key) == [
        "911", "_911", "_9XX", "_9.", "_[12]1", "_[13]1", "_[1-5]11", "_N11", "_X11", "_X.",
        "_X!", "_X",
    ]


def test_a_literal_digit_sorts_before_a_set_that_holds_it() -> None:
    """_9. comes before _[0-9]911: the first position decides (one character vs ten)."""
    assert sorted(["_[0-9]911", "_9."], key=sort_key) == ["_9.", "_[0-9]911"]


def test_patterns_that_compare_equal_are_one_extension() -> None:
    """_9[1]1 and _911 score and set the same at every position: Asterisk merges them."""
    assert sort_key("_9[1]1") == sort_key("_911")
    assert sort_key("_NXX-XXXX") == sort_key("_NXXXXXX")


@pytest.mark.parametrize(
    ("name", "dialled", "expected"),
    [
        pytest.param("_X.", "911", True, id="dot-takes-911"),
        pytest.param("_X.", "9", False, id="dot-needs-one-more"),
        pytest.param("_X!", "9", True, id="bang-takes-none"),
        pytest.param("_9.", "911", True, id="prefix-pattern-takes-911"),
        pytest.param("_NXX-XXXX", "5551234", True, id="dash-is-eye-candy"),
        pytest.param("_NXXNXXXXXX", "911", False, id="too-short"),
        pytest.param("_N11", "911", True, id="n11"),
        pytest.param("_N11", "111", False, id="n-is-2-to-9"),
        pytest.param("_Z11", "111", True, id="z-is-1-to-9"),
        pytest.param("_x11", "011", True, id="lower-case-x"),
        pytest.param("_[0-9]911", "9911", True, id="set-range"),
        pytest.param("_[]911", "911", True, id="empty-set-skipped"),
        pytest.param("_9[1", "91", False, id="unclosed-set-never-matches"),
        pytest.param("911", "9-1-1", True, id="exact-ignores-dashes"),
        pytest.param("911", "9911", False, id="exact-is-whole"),
        pytest.param("_911", "9111", False, id="pattern-is-whole"),
    ],
)
def test_match_is_a_full_match(name: str, dialled: str, expected: bool) -> None:
    """A pattern takes a number dialled in full exactly as Asterisk's E_MATCH does."""
    assert matches(name, dialled) is expected


def test_normalize_drops_spaces_and_dashes_outside_sets() -> None:
    """Extension names are stored without spaces and eye-candy dashes; a set keeps its range."""
    assert normalize("_NXX - XXXX") == "_NXXXXXX"
    assert normalize("_[1-5]11") == "_[1-5]11"


# Asterisk's own tests/test_pbx.c (pattern_match_test): context test_pattern holds _2. and
# 2000 (priority 1 only) and includes test_pattern_include, which holds 2000 at priority 2.
ASTERISK_TEST_PBX = """
[test_pattern]
include => test_pattern_include
exten => _2.,1,NoOp(first)
exten => 2000,1,NoOp(second)

[test_pattern_include]
exten => 2000,2,NoOp(third)
"""


@pytest.mark.parametrize(
    ("context", "dialled", "priority", "found_in", "line"),
    [
        pytest.param("test_pattern", "200", 1, "test_pattern", 4, id="pattern"),
        pytest.param("test_pattern", "2000", 1, "test_pattern", 5, id="exact-before-pattern"),
        pytest.param("test_pattern", "2000", 2, "test_pattern_include", 8,
                     id="no-priority-2-here-so-the-include"),
        pytest.param("test_pattern_include", "2000", 2, "test_pattern_include", 8,
                     id="include-itself"),
    ],
)
def test_find_extension_agrees_with_asterisks_own_pattern_match_test(
        context: str, dialled: str, priority: int, found_in: str, line: int) -> None:
    """The extension found for (context, number, priority) is the one Asterisk's test_pbx.c
    expects: a matching extension without the priority asked for does not stop the search."""
    found = find_extension(parse(ASTERISK_TEST_PBX), context, dialled, priority=priority)
    assert found is not None
    assert (found.context, found.line) == (found_in, line)
