"""The skip guard (tests/conftest.py): under CI=true or PYTEST_FAIL_ON_SKIP=1 a skipped test
fails the run unless it carries `@pytest.mark.allow_skip(reason=...)`; a real pytest runs on a
small test directory each time, with the project's conftest as its only plugin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TESTS = '''
import pytest

def test_passes():
    """Runs."""

@pytest.mark.skipif(True, reason="sox not installed")
def test_skipped_by_mark():
    """Skips at setup."""

def test_skipped_in_the_body():
    """Skips while running."""
    pytest.skip("no PostgreSQL server at 127.0.0.1:5432")

@pytest.mark.allow_skip(reason="needs a GPU, which no machine of this project has")
def test_allowed_to_skip():
    """Skips with a reasoned marker."""
    pytest.skip("no GPU")

@pytest.mark.allow_skip(reason="")
def test_marker_without_a_reason():
    """An empty reason does not count."""
    pytest.skip("why not")

@pytest.mark.xfail(reason="known bug", strict=True)
def test_expected_failure():
    """xfail is not a skip."""
    assert False
'''

MODULE_SKIP = '''
import pytest
pytest.skip("kamailio not installed", allow_module_level=True)

def test_never_collected():
    """Its module skipped."""
'''


def run_pytest(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    """pytest on the two files above, in a directory of its own (no pyproject of ours)."""
    (tmp_path / "test_sample.py").write_text(TESTS)
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIP)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_FAIL_ON_SKIP")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-rA", "-q",
         "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env={**base, "PYTHONPATH": str(ROOT), "COLUMNS": "400", **env},
        capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout + done.stderr


def summary(output: str) -> str:
    """pytest's closing line, e.g. '2 failed, 1 passed, 1 skipped, 1 xfailed, 2 errors'."""
    return re.findall(r"^=*\s*(\d+ \w+.*?) in [0-9.]+s", output, re.MULTILINE)[-1]


def test_without_the_guard_skips_are_skips(tmp_path: Path) -> None:
    """A developer's plain `pytest` run keeps pytest's behaviour: skips pass."""
    code, output = run_pytest(tmp_path, {})
    assert code == 0, output
    assert summary(output) == "1 passed, 5 skipped, 1 xfailed", output


def test_ci_turns_every_unmarked_skip_into_a_failure_naming_what_is_missing(
        tmp_path: Path) -> None:
    """CI=true: the mark, body, empty-reason and module-level skips fail with their reason
    (at setup and collection pytest calls that an error); the reasoned allow_skip still skips;
    xfail is untouched."""
    code, output = run_pytest(tmp_path, {"CI": "true"})
    assert code == 1, output
    assert summary(output) == "2 failed, 1 passed, 1 skipped, 1 xfailed, 2 errors", output
    for line in ("ERROR test_module_skip.py - module skipped: kamailio not installed",
                 "ERROR test_sample.py::test_skipped_by_mark - test skipped: sox not installed",
                 "FAILED test_sample.py::test_skipped_in_the_body - test skipped: "
                 "no PostgreSQL server at 127.0.0.1:5432",
                 "FAILED test_sample.py::test_marker_without_a_reason - test skipped: why not"):
        assert any(out.startswith(line + " (") for out in output.splitlines()), (line, output)
    assert "SKIPPED [1] test_sample.py:18: no GPU" in output.splitlines(), output


def test_scripts_test_switch_works_outside_ci(tmp_path: Path) -> None:
    """PYTEST_FAIL_ON_SKIP=1 (what ./scripts/test sets) arms the same guard without CI."""
    code, output = run_pytest(tmp_path, {"PYTEST_FAIL_ON_SKIP": "1"})
    assert code == 1, output
    assert summary(output) == "2 failed, 1 passed, 1 skipped, 1 xfailed, 2 errors", output
