"""The test kit's import rules (issue 15): helpers shared between test packages and with the
bench scripts live in tests/support; no module imports a test module or a conftest (pytest
finds fixtures in conftest.py files; a conftest may import a fixture from tests.support), and
the scripts import nothing of tests/ outside tests.support."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every import in `path`, `from a import b` also as `a.b`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def forbidden(module: str, *, from_script: bool) -> str | None:
    """Why importing `module` breaks a rule, or None."""
    parts = module.split(".")
    if parts[0] != "tests":
        return None
    if "conftest" in parts:
        return "imports a conftest"
    if any(part.startswith("test_") for part in parts):
        return "imports a test module"
    if from_script and parts[:2] != ["tests", "support"] and len(parts) > 1:
        return "a script imports tests outside tests.support"
    return None


def python_files(folder: Path) -> list[Path]:
    """Every *.py below `folder`, and the Python programs without a suffix (scripts/sip-bench)."""
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".py":
            found.append(path)
        elif not path.suffix:
            with path.open("rb") as handle:
                if b"python" in handle.readline():
                    found.append(path)
    return found


def violations(root: Path) -> list[str]:
    found = []
    for folder, from_script in (("tests", False), ("scripts", True)):
        for path in python_files(root / folder):
            for line, module in imported_modules(path):
                why = forbidden(module, from_script=from_script)
                if why:
                    found.append(f"{path.relative_to(root)}:{line}: {module}: {why}")
    return found


def test_no_module_imports_a_test_module_or_a_conftest_and_scripts_use_only_the_kit() -> None:
    assert violations(REPO) == []


def test_the_rules_catch_each_kind_of_import(tmp_path: Path) -> None:
    (tmp_path / "tests" / "api").mkdir(parents=True)
    (tmp_path / "scripts").mkdir()
    (tmp_path / "tests" / "api" / "test_a.py").write_text(
        "from tests.api.test_b import helper\nfrom tests.front.conftest import OFFICE\n"
        "from tests.support.ports import free_port\n")
    (tmp_path / "scripts" / "bench_x.py").write_text(
        "from tests.notify.support import SmtpServer\nfrom tests.support.sipp import run_uac\n"
        "import tests.unit.test_c\n")
    (tmp_path / "scripts" / "sip-x").write_text(
        "#!/usr/bin/env python3\nfrom tests.scenarios.harness import free_port\n")
    assert violations(tmp_path) == [
        "tests/api/test_a.py:1: tests.api.test_b: imports a test module",
        "tests/api/test_a.py:1: tests.api.test_b.helper: imports a test module",
        "tests/api/test_a.py:2: tests.front.conftest: imports a conftest",
        "tests/api/test_a.py:2: tests.front.conftest.OFFICE: imports a conftest",
        "scripts/bench_x.py:1: tests.notify.support: a script imports tests outside tests.support",
        "scripts/bench_x.py:1: tests.notify.support.SmtpServer: a script imports tests outside "
        "tests.support",
        "scripts/bench_x.py:3: tests.unit.test_c: imports a test module",
        "scripts/sip-x:2: tests.scenarios.harness: a script imports tests outside tests.support",
        "scripts/sip-x:2: tests.scenarios.harness.free_port: a script imports tests outside "
        "tests.support",
    ]
