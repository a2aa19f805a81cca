"""The map of docs/architecture.md ("Packages and import rules") holds: no package imports across a
line the map forbids, only `router/sip/` imports pjsua2, and the pure packages do no I/O.

The table in the doc is the rule: this test reads it, so the map and the check cannot drift.
A new package, or a new edge between packages, is a change to that table first.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"

PURE_FORBIDDEN = frozenset({
    "pjsua2", "sqlalchemy", "psycopg", "sqlite3", "socket", "selectors", "subprocess",
    "threading", "asyncio", "http", "urllib.request", "smtplib", "ssl", "structlog",
    "logging", "prometheus_client", "os", "shutil", "signal", "ctypes", "queue", "time",
})
"""Modules a pure package (the I/O column says "none") may not import: no sockets, files,
threads, clocks, databases or logs. Pure code takes what it needs as arguments."""


@dataclass(frozen=True, slots=True)
class Rule:
    package: str
    may_import: frozenset[str]
    pure: bool


def _rules() -> dict[str, Rule]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Packages and import rules", 1)[1].split("\n## ", 1)[0]
    rows: list[tuple[str, str, str]] = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows.append((cells[0].strip("`"), cells[2], cells[3]))
    every = frozenset(package for package, _, _ in rows)
    return {package: Rule(package,
                          every if may == "every row"
                          else frozenset(re.findall(r"`([a-z_.]+)`", may)),
                          pure=io == "none")
            for package, may, io in rows}


RULES = _rules()


def _package_of(module: str) -> str | None:
    """The longest package of the map that holds `module`."""
    best = None
    for package in RULES:
        if (module == package or module.startswith(package + ".")) and (
                best is None or len(package) > len(best)):
            best = package
    return best


def _modules() -> Iterator[tuple[str, Path]]:
    """Every module of the code, but `router/__init__.py` (the version, nothing else)."""
    for top in ("router", "dialplan"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts != ("router",):
                yield ".".join(parts), path


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute import in the file, with its line (inside functions and
    TYPE_CHECKING blocks too: a deferred import is still a dependency)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _is_module(name: str) -> bool:
    base = ROOT / name.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def test_the_map_is_read() -> None:
    """The table parsed: a renamed heading or a broken row must not pass as "no rules"."""
    assert len(RULES) >= 30
    assert RULES["router.call"].pure and not RULES["router.sip"].pure
    assert "router.call" in RULES["router.sip"].may_import
    assert RULES["router.commands"].may_import == frozenset(RULES)


def test_the_map_names_every_module() -> None:
    unmapped = sorted(m for m, _ in _modules() if _package_of(m) is None)
    assert not unmapped, f"modules the map in {DOC.name} does not name: {unmapped}"


def test_the_map_names_only_existing_packages() -> None:
    missing = sorted(p for p in RULES if not _is_module(p))
    assert not missing, f"packages in the map that do not exist: {missing}"
    pattern = re.compile(r"`([a-z_.]+)`")
    for rule in RULES.values():
        assert all(pattern.fullmatch(f"`{name}`") for name in rule.may_import)
    for rule in RULES.values():
        unknown = sorted(rule.may_import - set(RULES))
        assert not unknown, f"{rule.package} may import unknown packages: {unknown}"


def _violations() -> list[str]:
    found: list[str] = []
    for module, path in _modules():
        source = _package_of(module)
        assert source is not None
        rule = RULES[source]
        where = path.relative_to(ROOT)
        for line, name in _imports(path):
            top = name.split(".")[0]
            if top == "pjsua2" and source != "router.sip":
                found.append(f"{where}:{line}: imports pjsua2 (only router/sip/ may)")
            if rule.pure and (top in PURE_FORBIDDEN or name in PURE_FORBIDDEN):
                found.append(f"{where}:{line}: pure package {source} imports {name} (I/O)")
            if top not in ("router", "dialplan") or not _is_module(name):
                continue
            target = _package_of(name)
            if target is None or target == source or target in rule.may_import:
                continue
            found.append(f"{where}:{line}: {source} may not import {target} ({name})")
    return sorted(set(found))


def test_no_package_imports_across_a_line_the_map_forbids() -> None:
    violations = _violations()
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("forbidden", ["router.sip", "router.api", "router.commands"])
def test_the_layers_under_the_call_path_never_reach_up(forbidden: str) -> None:
    """observe, notify, records and metrics depend on the call pipeline, never on pjsua2's
    package; nothing but the entry points reaches the API or the commands."""
    for package in ("router.observe", "router.notify", "router.records", "router.metrics",
                    "router.call", "router.location", "router.store", "router.db"):
        if package in RULES:
            assert forbidden not in RULES[package].may_import, (package, forbidden)
