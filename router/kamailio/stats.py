"""The front's own counters (Kamailio `statistics`, group `e911_front`) on the host's /metrics.

Kamailio counts what no worker sees: calls the route cache sent on by itself, emergency INVITEs
the front built from a worker's 302, malformed 302s, fallback trunks. They are read over the
ctl socket (`kamcmd stats.get_statistics script:`) at scrape time and served as counters.
When Kamailio does not answer (starting, restarting, E911_FRONT=none) the series are absent
rather than zero, so a rate() over a restart does not see a false drop.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_LINE = re.compile(r"^\s*(?:script:)?e911_front:([a-z_]+) = (\d+)\s*$", re.M)


def parse_front_stats(text: str) -> dict[str, int]:
    """`kamcmd stats.get_statistics script:` output -> {name: value} of our counters."""
    return {name: int(value) for name, value in _LINE.findall(text)}


def read_front_stats(ctl_socket: Path, *, binary: str = "kamcmd",
                     timeout_seconds: float = 2.0) -> dict[str, int]:
    """The front's counters, or {} when Kamailio cannot be asked."""
    if not ctl_socket.exists():
        return {}
    try:
        # Statistics declared by the `statistics` module live in Kamailio's "script" group
        # ("script:e911_front:route_cache_hit = 2"): asking for "e911_front:" answers nothing.
        proc = subprocess.run([binary, "-s", f"unix:{ctl_socket}", "stats.get_statistics",
                               "script:"], capture_output=True, text=True,
                              timeout=timeout_seconds, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return parse_front_stats(proc.stdout) if proc.returncode == 0 else {}


def front_metrics(stats: Mapping[str, int]) -> list[Metric]:
    """Prometheus families for the counters in `stats` (none when `stats` is empty)."""
    if not stats:
        return []
    cache = CounterMetricFamily(
        "e911_front_route_cache",
        "Ordinary calls of located callers the front routed itself from its route cache (hit) "
        "and worker 302s it remembered (filled); docs/kamailio.md.", labels=["result"])
    cache.add_metric(["hit"], stats.get("route_cache_hit", 0))
    cache.add_metric(["filled"], stats.get("route_cache_filled", 0))
    redirects = CounterMetricFamily(
        "e911_front_emergency_redirects",
        "Workers' front-path 302s: built into an emergency INVITE with its PIDF-LO (built), or "
        "refused as malformed and routed without location (malformed); docs/front-path.md.",
        labels=["result"])
    redirects.add_metric(["built"], stats.get("redirect_built", 0))
    redirects.add_metric(["malformed"], stats.get("redirect_malformed", 0))
    fallback = CounterMetricFamily(
        "e911_front_fallback_trunks",
        "Further emergency trunks the front tried after one failed (X-E911-Fallback).")
    fallback.add_metric([], stats.get("fallback_used", 0))
    decisions = CounterMetricFamily(
        "e911_front_decisions",
        "Ordinary calls the front's own decision code (E911_FRONT_DECISIONS=python, issue 19) "
        "relayed to their route (relay), answered 404 (reply), or left to a worker (worker); "
        "docs/kamailio.md.", labels=["result"])
    for result in ("relay", "reply", "worker"):
        decisions.add_metric([result], stats.get(f"decided_{result}", 0))
    return [cache, redirects, fallback, decisions, *announce_metrics(stats)]


ANNOUNCE_RESULTS = ("started", "completed", "cancelled", "capped", "fallback")
"""`e911_front:announce_<result>` (router/kamailio/announce.cfg.tmpl): started = 183 sent and
the prompt playing; completed = played to its end, 403 sent; cancelled = the caller hung up
during it; capped = E911_ANNOUNCE_MAX were playing, 403 at once; fallback = rtpengine down,
slow, full or unable to play: 403 at once, before any 183."""


def announce_metrics(stats: Mapping[str, int]) -> list[Metric]:
    """The front's announcements (issue 16), when Kamailio runs the announcer."""
    if not any(f"announce_{r}" in stats for r in ANNOUNCE_RESULTS):
        return []
    family = CounterMetricFamily(
        "e911_front_announcements",
        "Announcements the front played or refused, by result (started, completed, cancelled, "
        "capped, fallback); docs/announcements.md.", labels=["result"])
    for result in ANNOUNCE_RESULTS:
        family.add_metric([result], stats.get(f"announce_{result}", 0))
    playing = GaugeMetricFamily(
        "e911_front_announcements_playing",
        "Announcements playing now (started - completed - cancelled; capped by "
        "E911_ANNOUNCE_MAX).")
    playing.add_metric([], max(0, stats.get("announce_started", 0)
                               - stats.get("announce_completed", 0)
                               - stats.get("announce_cancelled", 0)))
    return [family, playing]


class FrontStatsCollector(Collector):
    """Register on the host registry: reads Kamailio at every scrape."""

    def __init__(self, ctl_socket: Path, *, binary: str = "kamcmd") -> None:
        self._ctl = ctl_socket
        self._binary = binary

    def collect(self) -> Iterable[Metric]:
        return front_metrics(read_front_stats(self._ctl, binary=self._binary))
