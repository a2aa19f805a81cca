"""The load benchmark's chart: offered calls per second against failed calls and setup p99.

`./scripts/bench load` (scripts/bench_load.py --chart) writes every run it measured (each step
and each hold, per system) to `docs/benchmarks-load.json` and draws `docs/benchmarks-load.svg`
from that file, which docs/benchmarks.md shows. Two panels share the rate axis: failed calls
(% of the calls offered in the run) above, setup p99 (ms, log scale; SIPp's response time of
the final answer) per call class below. A hold (the long run at the best step's rate) is a
ring, a step a dot. Hand-written SVG: no plotting dependency, and the file diffs as text.

Redraw from the saved data without measuring again:

    .venv/bin/python scripts/bench_chart.py docs/benchmarks-load.json docs/benchmarks-load.svg
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 760, 560
LEFT, RIGHT = 70, 160
TOP_PANEL = (40, 230)
"""(top, bottom) pixel rows of the failures panel."""
BOTTOM_PANEL = (290, 490)
"""(top, bottom) pixel rows of the setup p99 panel."""
COLORS = {"router": "#1f77b4", "kamailio-proxy": "#2ca02c", "sippy": "#d62728"}
OTHER_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
DASHES = {"emergency": "", "normal": "6 3", "unlocated": "2 3"}
"""Line style of each call class in the setup panel (others: dotted)."""


@dataclass(frozen=True, slots=True)
class Point:
    """One measured run of one system at one rate."""

    system: str
    rate: float
    """Offered calls a second (all classes)."""
    seconds: float
    offered: int
    failed: int
    held: bool
    """The long hold at the best rate (False: a step of the search)."""
    setup_p99_ms: dict[str, float] = field(default_factory=dict)
    """Call class -> p99 of the setup time; a class without samples is left out."""

    @property
    def failed_pct(self) -> float:
        return 100.0 * self.failed / self.offered if self.offered else 0.0


class _ClassLike(Protocol):
    """What the chart reads of a `loadlib.ClassResult`."""

    @property
    def name(self) -> str: ...
    @property
    def offered(self) -> int: ...
    @property
    def setup_p99_ms(self) -> float: ...


class _RunLike(Protocol):
    """What the chart reads of a `loadlib.RunResult`."""

    @property
    def system(self) -> str: ...
    @property
    def rate(self) -> float: ...
    @property
    def seconds(self) -> float: ...
    @property
    def failed(self) -> int: ...
    @property
    def classes(self) -> Sequence[_ClassLike]: ...


def point_of(result: _RunLike, *, held: bool) -> Point:
    """A `loadlib.RunResult` as a chart point (its `failed` includes answered 911s that did not
    reach the PSAP with a valid PIDF-LO)."""
    return Point(
        system=result.system, rate=float(result.rate), seconds=float(result.seconds),
        offered=sum(c.offered for c in result.classes), failed=int(result.failed), held=held,
        setup_p99_ms={c.name: float(c.setup_p99_ms) for c in result.classes
                      if not math.isnan(c.setup_p99_ms)})


def save_points(points: Sequence[Point], path: Path) -> None:
    path.write_text(json.dumps([asdict(p) for p in points], indent=1, sort_keys=True) + "\n")


def load_points(path: Path) -> list[Point]:
    raw: list[dict[str, Any]] = json.loads(path.read_text())
    return [Point(**item) for item in raw]


# -- drawing ------------------------------------------------------------------------------------


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above `value` (an axis end)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power + 1e-9:
            return step * power
    return 10.0 * power


def _x(rate: float, x_max: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * rate / x_max


def _y_linear(value: float, top_max: float) -> float:
    top, bottom = TOP_PANEL
    return bottom - (bottom - top) * min(value, top_max) / top_max


def _y_log(ms: float, low: float, high: float) -> float:
    top, bottom = BOTTOM_PANEL
    ms = min(max(ms, low), high)
    return bottom - (bottom - top) * (math.log10(ms) - math.log10(low)) / (
        math.log10(high) - math.log10(low))


def _color(system: str, systems: Sequence[str]) -> str:
    if system in COLORS:
        return COLORS[system]
    others = [s for s in systems if s not in COLORS]
    return OTHER_COLORS[others.index(system) % len(OTHER_COLORS)]


def _text(x: float, y: float, text: str, *, anchor: str = "middle", size: int = 11,
          extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"'
            f'{extra}>{escape(text)}</text>')


def _polyline(coords: Iterable[tuple[float, float]], color: str, dash: str = "") -> str:
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"'
            f'{dashed}/>')


def _marker(x: float, y: float, color: str, point: Point, panel: str, value: str,
            call_class: str = "") -> str:
    data = (f' data-panel="{panel}" data-system="{escape(point.system)}"'
            f' data-rate="{point.rate:g}" data-held="{str(point.held).lower()}"'
            f' data-value="{value}"'
            + (f' data-class="{escape(call_class)}"' if call_class else ""))
    if point.held:
        return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5.5" fill="white" stroke="{color}"'
                f' stroke-width="2"{data}/>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"{data}/>'


def render_svg(points: Sequence[Point], *, title: str = "Load: mixed profile") -> str:
    """The chart as SVG text. Pure: the same points give the same bytes."""
    systems = list(dict.fromkeys(p.system for p in points))
    classes = sorted({c for p in points for c in p.setup_p99_ms},
                     key=lambda c: (c not in DASHES, list(DASHES).index(c) if c in DASHES
                                    else 0, c))
    x_max = nice_ceiling(max((p.rate for p in points), default=1.0))
    top_max = nice_ceiling(max([5.0, *(p.failed_pct for p in points)]))
    p99s = [v for p in points for v in p.setup_p99_ms.values() if v > 0]
    low = 10.0 ** math.floor(math.log10(min(p99s))) if p99s else 1.0
    high = 10.0 ** math.ceil(math.log10(max(p99s))) if p99s else 10.0
    if high <= low:
        high = low * 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"'
           f' viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           _text(WIDTH / 2, 22, title, size=14)]
    right = WIDTH - RIGHT
    # axes, grid and tick labels
    for top, bottom in (TOP_PANEL, BOTTOM_PANEL):
        out.append(f'<rect x="{LEFT}" y="{top}" width="{right - LEFT}" height="{bottom - top}"'
                   f' fill="none" stroke="#444"/>')
    for k in range(6):
        rate = x_max * k / 5
        x = _x(rate, x_max)
        for top, bottom in (TOP_PANEL, BOTTOM_PANEL):
            out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}"'
                       f' stroke="#ddd"/>')
        out.append(_text(x, BOTTOM_PANEL[1] + 16, f"{rate:g}"))
    out.append(_text((LEFT + right) / 2, BOTTOM_PANEL[1] + 36, "offered calls/s"))
    for k in range(5):
        value = top_max * k / 4
        y = _y_linear(value, top_max)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(_text(LEFT - 6, y + 4, f"{value:g}", anchor="end"))
    out.append(_text(18, sum(TOP_PANEL) / 2, "failed calls (%)",
                     extra=f' transform="rotate(-90 18 {sum(TOP_PANEL) / 2:.1f})"'))
    decade = low
    while decade <= high * 1.0001:
        y = _y_log(decade, low, high)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(_text(LEFT - 6, y + 4, f"{decade:g}", anchor="end"))
        decade *= 10
    out.append(_text(18, sum(BOTTOM_PANEL) / 2, "setup p99 (ms, log)",
                     extra=f' transform="rotate(-90 18 {sum(BOTTOM_PANEL) / 2:.1f})"'))
    # data: steps joined by a line in rate order, holds as rings
    for system in systems:
        color = _color(system, systems)
        mine = sorted((p for p in points if p.system == system), key=lambda p: (p.rate, p.held))
        steps = [p for p in mine if not p.held]
        out.append(_polyline(((_x(p.rate, x_max), _y_linear(p.failed_pct, top_max))
                              for p in steps), color))
        for p in mine:
            out.append(_marker(_x(p.rate, x_max), _y_linear(p.failed_pct, top_max), color, p,
                               "failed", f"{p.failed_pct:.3g}"))
        for call_class in classes:
            with_class = [p for p in steps if call_class in p.setup_p99_ms]
            out.append(_polyline(((_x(p.rate, x_max),
                                   _y_log(p.setup_p99_ms[call_class], low, high))
                                  for p in with_class), color, DASHES.get(call_class, "1 3")))
            for p in mine:
                if call_class in p.setup_p99_ms:
                    value = p.setup_p99_ms[call_class]
                    out.append(_marker(_x(p.rate, x_max), _y_log(value, low, high), color, p,
                                       "setup_p99", f"{value:.4g}", call_class))
    # legend
    y = TOP_PANEL[0] + 8
    for system in systems:
        color = _color(system, systems)
        out.append(f'<line x1="{right + 14}" y1="{y}" x2="{right + 38}" y2="{y}"'
                   f' stroke="{color}" stroke-width="3"/>')
        out.append(_text(right + 44, y + 4, system, anchor="start"))
        y += 18
    y += 8
    for call_class in classes:
        out.append(f'<line x1="{right + 14}" y1="{y}" x2="{right + 38}" y2="{y}" stroke="#333"'
                   f' stroke-width="1.5" stroke-dasharray="{DASHES.get(call_class, "1 3")}"/>')
        out.append(_text(right + 44, y + 4, f"p99 {call_class}", anchor="start"))
        y += 18
    y += 8
    out.append(f'<circle cx="{right + 26}" cy="{y}" r="3" fill="#333"/>')
    out.append(_text(right + 44, y + 4, "step", anchor="start"))
    y += 18
    out.append(f'<circle cx="{right + 26}" cy="{y}" r="5.5" fill="white" stroke="#333"'
               f' stroke-width="2"/>')
    out.append(_text(right + 44, y + 4, "held (long run)", anchor="start"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_chart(points: Sequence[Point], svg: Path, data: Path | None = None, *,
                title: str = "Load: mixed profile") -> None:
    """Write the SVG (and, when `data` is given, the points it was drawn from)."""
    if data is not None:
        save_points(points, data)
    svg.write_text(render_svg(points, title=title))


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print("usage: bench_chart.py POINTS.json OUT.svg", file=sys.stderr)
        return 2
    write_chart(load_points(Path(argv[0])), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
