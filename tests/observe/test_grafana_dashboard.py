"""The Grafana dashboard: valid JSON, every query names only declared e911_* metrics, every
declared metric is on it, and every query is valid PromQL (promtool checks it as a rule)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from router.metrics import REGISTRY, metric_names

DASHBOARD = Path(__file__).resolve().parents[2] / "config" / "grafana" / "e911-dashboard.json"
_METRIC = re.compile(r"\b(e911_[a-z0-9_]+)\b")


def _panels(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        found.append(item)
        found += _panels(item.get("panels", []))
    return found


def _exprs() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [(p["title"], t["expr"]) for p in _panels(dashboard["panels"])
             for t in p.get("targets", [])]
    exprs += [(a["name"], a["expr"]) for a in dashboard["annotations"]["list"]]
    return exprs


def test_every_query_names_only_declared_metrics() -> None:
    """A renamed or misspelt metric shows up here, not as an empty panel at 3 a.m."""
    declared = metric_names()
    for title, expr in _exprs():
        used = set(_METRIC.findall(expr))
        assert used, (title, expr)
        assert used <= declared, (title, used - declared)


def test_every_declared_metric_is_on_the_dashboard() -> None:
    """The dashboard shows the same series the router exports."""
    used = {name for _, expr in _exprs() for name in _METRIC.findall(expr)}
    families = {f.name for f in REGISTRY.collect()}
    missing = {f for f in families
               if not any(u == f or u.startswith(f + "_") for u in used)}
    assert missing == set()


def test_panel_ids_are_unique_and_every_panel_has_a_place() -> None:
    panels = _panels(json.loads(DASHBOARD.read_text())["panels"])
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    assert all({"x", "y", "w", "h"} <= set(p["gridPos"]) for p in panels)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """Each query, with the dashboard variables filled in, passes `promtool check rules`."""
    rules = [{"record": f"dashboard:query_{i}", "expr": expr.replace("$instance", ".*")}
             for i, (_, expr) in enumerate(_exprs())]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
