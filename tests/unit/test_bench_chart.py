"""The load benchmark's chart (scripts/bench_chart.py): drawn from a small fixed data set, it
has one marker per measured run and value, in the right place, and round-trips its data."""

from __future__ import annotations

import math
import os
from argparse import Namespace
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lxml import etree

from scripts.bench_chart import (
    BOTTOM_PANEL,
    LEFT,
    RIGHT,
    TOP_PANEL,
    WIDTH,
    Point,
    load_points,
    nice_ceiling,
    point_of,
    render_svg,
    write_chart,
)
from scripts.bench_load import chart_points, render, report
from scripts.loadlib import ClassResult, RunResult, Usage

SVG = "{http://www.w3.org/2000/svg}"
POINTS = [
    Point("router", 100, 30, 3000, 0, False, {"emergency": 40.0, "normal": 30.0}),
    Point("router", 200, 30, 6000, 60, False, {"emergency": 400.0, "normal": 300.0}),
    Point("router", 100, 90, 9000, 0, True, {"emergency": 50.0, "normal": 35.0}),
    Point("sippy", 50, 30, 1500, 3, False, {"emergency": 500.0}),
]


def _markers(svg: str, panel: str) -> set[tuple[str, str, str, str, str]]:
    root = etree.fromstring(svg.encode())
    return {(c.get("data-system", ""), c.get("data-rate", ""), c.get("data-held", ""),
             c.get("data-class", ""), c.get("data-value", ""))
            for c in root.iter(f"{SVG}circle") if c.get("data-panel") == panel}


def test_chart_has_one_failure_marker_per_run_and_one_p99_marker_per_class() -> None:
    """Every run is a marker in the failures panel (its % failed) and one per call class in
    the setup panel (its p99), holds marked as such."""
    svg = render_svg(POINTS)
    assert _markers(svg, "failed") == {
        ("router", "100", "false", "", "0"), ("router", "200", "false", "", "1"),
        ("router", "100", "true", "", "0"), ("sippy", "50", "false", "", "0.2")}
    assert _markers(svg, "setup_p99") == {
        ("router", "100", "false", "emergency", "40"), ("router", "100", "false", "normal", "30"),
        ("router", "200", "false", "emergency", "400"),
        ("router", "200", "false", "normal", "300"),
        ("router", "100", "true", "emergency", "50"), ("router", "100", "true", "normal", "35"),
        ("sippy", "50", "false", "emergency", "500")}


def test_markers_sit_on_the_axes_scales() -> None:
    """x: rate on 0..200 (200 is already a nice ceiling); failures: 0..5 %; p99: log
    10..1000 ms."""
    root = etree.fromstring(render_svg(POINTS).encode())
    router_200 = [c for c in root.iter(f"{SVG}circle")
                  if c.get("data-system") == "router" and c.get("data-rate") == "200"]
    failed = next(c for c in router_200 if c.get("data-panel") == "failed")
    p99 = next(c for c in router_200 if c.get("data-class") == "emergency")
    plot_width = WIDTH - LEFT - RIGHT
    assert float(failed.get("cx", "")) == LEFT + plot_width
    top, bottom = TOP_PANEL
    assert float(failed.get("cy", "")) == round(bottom - (bottom - top) * 1 / 5, 1)
    top, bottom = BOTTOM_PANEL
    expected = bottom - (bottom - top) * (math.log10(400) - 1) / 2
    assert float(p99.get("cy", "")) == round(expected, 1)


def test_legend_names_every_system_and_class_and_the_axes_are_labelled() -> None:
    texts = [t.text for t in etree.fromstring(render_svg(POINTS).encode()).iter(f"{SVG}text")]
    for label in ("router", "sippy", "p99 emergency", "p99 normal", "offered calls/s",
                  "failed calls (%)", "setup p99 (ms, log)", "held (long run)"):
        assert label in texts


def test_nice_ceiling_rounds_up_to_1_2_2_5_or_5() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 200, 201, 1200, 0.04)] == [
        1.0, 1.0, 5.0, 10.0, 200.0, 250.0, 2000.0, 0.05]


def test_write_chart_saves_the_points_it_drew(tmp_path: Path) -> None:
    svg, data = tmp_path / "load.svg", tmp_path / "load.json"
    write_chart(POINTS, svg, data)
    assert load_points(data) == POINTS
    assert svg.read_text() == render_svg(POINTS)


def _run(system: str, rate: float, seconds: float, failed: int) -> RunResult:
    classes = [ClassResult("emergency", int(rate * seconds * 0.1), 0, 0, 0, 1.0, 20.0, 30.0, 0),
               ClassResult("normal", int(rate * seconds * 0.9), 0, failed, 0, 1.0, 10.0, 15.0,
                           0)]
    # `failed` of the run counts unanswered calls: make `successful` match.
    classes = [ClassResult(c.name, c.offered, c.offered - c.failed, c.failed, 0, c.setup_p50_ms,
                           c.setup_p99_ms, c.setup_max_ms, 0) for c in classes]
    return RunResult(system, "mixed", rate, seconds, classes, Usage(), None)


def test_bench_load_turns_its_runs_into_points_and_links_the_chart() -> None:
    """Steps are dots, the passing hold and a failed hold are rings; the markdown shows the
    chart and says where its data is."""
    args = Namespace(seconds=90.0, step_seconds=30.0, hold_ms=1000, workers=4, warmup_seconds=10.0)
    results: dict[str, tuple[list[Any], Any]] = {
        "router": ([_run("router", 100, 30, 0), _run("router", 200, 30, 12),
                    _run("router", 200, 90, 5)], _run("router", 160, 90, 0))}
    points = chart_points(results, args)
    assert [(p.rate, p.seconds, p.held, p.failed, p.offered) for p in points] == [
        (100, 30, False, 0, 3000), (200, 30, False, 12, 6000), (200, 90, True, 5, 18000),
        (160, 90, True, 0, 14400)]
    # bench_load imports the module as `bench_chart`, the test as `scripts.bench_chart`.
    assert asdict(points[0]) == asdict(point_of(results["router"][0][0], held=False))
    assert points[0].setup_p99_ms == {"emergency": 20.0, "normal": 10.0}
    text = render(results, args, 0.0, "benchmarks-load.svg")
    assert ("![Offered calls/s against failed calls and setup p99, every step and hold below]"
            "(benchmarks-load.svg)") in text
    assert "Data: `benchmarks-load.json`." in text
    assert "--chart docs/benchmarks-load.svg" in text


def test_report_writes_the_chart_and_its_data_and_links_them(tmp_path: Path) -> None:
    """What `./scripts/bench load` runs (--chart): the SVG and the JSON beside it, drawn from
    the measured runs, and the section's image link relative to docs/."""
    chart = tmp_path / "benchmarks-load.svg"
    args = Namespace(seconds=90.0, step_seconds=30.0, hold_ms=1000, workers=4,
                     warmup_seconds=10.0, chart=chart)
    results: dict[str, tuple[list[Any], Any]] = {
        "router": ([_run("router", 100, 30, 0)], _run("router", 100, 90, 0))}
    text = report(results, args, 0.0)
    points = load_points(tmp_path / "benchmarks-load.json")
    assert [(p.system, p.rate, p.held) for p in points] == [("router", 100, False),
                                                            ("router", 100, True)]
    assert chart.read_text() == render_svg(
        points, title="Load: mixed profile, 4 workers, 30 s steps")
    link = os.path.relpath(chart, Path(__file__).resolve().parents[2] / "docs")
    assert f"every step and hold below]({link})" in text
