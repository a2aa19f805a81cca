"""router.call is the pure per-call pipeline: every module of it, and the observers of a call
(observe, metrics, records, notify) and the location view, import neither pjsua2 nor
router.sip (checked in a fresh interpreter: in a whole-suite run pjsua2 may be loaded already)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OBSERVERS = ("router.observe", "router.metrics", "router.records.model", "router.records.writer",
             "router.notify.recorder", "router.notify.hook", "router.location.view")


def _loaded_sip(modules: list[str]) -> list[str]:
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "print(' '.join(sorted(m for m in sys.modules if m == 'pjsua2' or m == 'router.sip'"
            " or m.startswith('router.sip.'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_every_router_call_module_imports_without_pjsua2() -> None:
    modules = sorted(f"router.call.{p.stem}" for p in (REPO / "router" / "call").glob("*.py")
                     if p.stem != "__init__")
    assert len(modules) > 10
    assert _loaded_sip(["router.call", *modules]) == []


def test_the_observers_of_a_call_depend_on_router_call_not_router_sip() -> None:
    assert _loaded_sip(list(OBSERVERS)) == []


def test_the_location_view_does_not_import_the_metrics() -> None:
    """The view reports its version to a callback; the worker process owns the gauge."""
    code = "import sys, router.location.view; print('router.metrics' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "False\n"
