"""The front's Kamailio counters as Prometheus series (router/kamailio/stats.py)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from router.kamailio.stats import FrontStatsCollector, front_metrics, parse_front_stats

KAMCMD_OUTPUT = """script:e911_front:fallback_used = 1
script:e911_front:redirect_built = 40
script:e911_front:redirect_malformed = 0
script:e911_front:route_cache_filled = 7
script:e911_front:route_cache_hit = 1203
script:other_counter = 9
"""


def test_kamcmd_output_is_parsed_by_name() -> None:
    assert parse_front_stats(KAMCMD_OUTPUT) == {
        "fallback_used": 1, "redirect_built": 40, "redirect_malformed": 0,
        "route_cache_filled": 7, "route_cache_hit": 1203}


def test_counters_are_served_with_their_labels() -> None:
    registry = CollectorRegistry()

    class Fixed(Collector):
        def collect(self) -> Iterable[Metric]:
            return front_metrics(parse_front_stats(KAMCMD_OUTPUT))

    registry.register(Fixed())
    text = generate_latest(registry).decode()
    assert 'e911_front_route_cache_total{result="hit"} 1203.0' in text
    assert 'e911_front_route_cache_total{result="filled"} 7.0' in text
    assert 'e911_front_emergency_redirects_total{result="built"} 40.0' in text
    assert 'e911_front_emergency_redirects_total{result="malformed"} 0.0' in text
    assert "e911_front_fallback_trunks_total 1.0" in text


def test_front_decisions_are_served_by_result() -> None:
    """Issue 19: the front's own decisions (decided_relay / _reply / _worker)."""
    stats = parse_front_stats("script:e911_front:decided_relay = 12\n"
                              "script:e911_front:decided_worker = 3\n")
    families = {f.name: f for f in front_metrics(stats)}
    samples = {s.labels["result"]: s.value for s in families["e911_front_decisions"].samples}
    assert samples == {"relay": 12, "reply": 0, "worker": 3}


def test_no_kamailio_means_no_series_not_zeros(tmp_path: Path) -> None:
    """A front that cannot be asked (no ctl socket) adds nothing to /metrics."""
    registry = CollectorRegistry()
    registry.register(FrontStatsCollector(tmp_path / "absent.ctl"))
    assert "e911_front" not in generate_latest(registry).decode()
