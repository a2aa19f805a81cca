"""Fixtures shared by every test directory (the two store engines), and the skip guard.

`store_url` gives an empty store on SQLite (a file in tmp_path) and on PostgreSQL (a fresh
schema of the `test` database per test, dropped afterwards). When no server answers at
`POSTGRES_URL` the PostgreSQL tests skip saying why, and the skip guard turns that into a
failure wherever it is armed. A directory may override `store_url` (the SIP scenarios use
SQLite only).

The skip guard: under `CI=true` or `PYTEST_FAIL_ON_SKIP=1` (./scripts/test sets it) a skipped
test, or a test module that skips as a whole, fails the run with its skip reason ("promtool
not installed", "no PostgreSQL server at ..."), unless the test carries
`@pytest.mark.allow_skip(reason="why skipping here is right")`. A missing part is installed
by ./scripts/test or named by the failure; it never passes unseen.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Generator, Iterator
from pathlib import Path
from urllib.parse import quote

import pluggy
import psycopg
import pytest
import structlog

from tests.support.postgres import POSTGRES_URL, postgres_unreachable

SKIP_GUARD_SWITCHES = (("CI", "true"), ("PYTEST_FAIL_ON_SKIP", "1"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_skip(reason): this test may skip even under the skip guard; the "
                   "reason says why skipping is right")


def skip_guard_armed() -> bool:
    """True under CI=true or PYTEST_FAIL_ON_SKIP=1."""
    return any(os.environ.get(name, "").lower() == value for name, value in SKIP_GUARD_SWITCHES)


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_the_skip(report: pytest.TestReport | pytest.CollectReport, what: str) -> None:
    report.outcome = "failed"
    report.longrepr = (f"{what} skipped: {_skip_reason(report)} (install what is missing, "
                       f"as ./scripts/test does, or mark it allow_skip(reason=...))")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """A skipped test fails under the guard unless it carries a reasoned allow_skip."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail") or not skip_guard_armed():
        return
    allowed = item.get_closest_marker("allow_skip")
    if allowed is None or not str(allowed.kwargs.get("reason", "")).strip():
        _fail_the_skip(report, "test")


@pytest.hookimpl(tryfirst=True)
def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A module that skips as a whole (pytest.skip(allow_module_level=True), importorskip)
    fails under the guard: no test in it would run."""
    if report.skipped and skip_guard_armed():
        _fail_the_skip(report, "module")


@pytest.fixture(autouse=True)
def _structlog_config_restored() -> Iterator[None]:
    """A command run in-process (`main([...])`) configures structlog for the whole process
    (`configure_logging`: its level filter, its renderer); put the configuration back after
    each test, so a later test's `capture_logs()` sees every event whatever ran before it.
    Found when `tests/unit/test_msag_command.py` ran before `tests/notify/test_smtp_outage.py`."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A store URL whose tables live in a new schema of the `test` database."""
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"e911_test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database URL of an empty store, on each engine in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/var/e911.db"
    url: str = request.getfixturevalue("pg_schema_url")
    return url
