"""The status screen's call history (router.metrics_server.CallHistory): pure, with a fake
clock and counter reader."""

from __future__ import annotations

from router.metrics_server import HISTORY_SPAN_SECONDS, HISTORY_STEP_SECONDS, CallHistory


class _Counters:
    def __init__(self) -> None:
        self.now = 1000.0
        self.values: dict[tuple[str, str], float] = {}

    def clock(self) -> float:
        return self.now

    def read(self) -> dict[tuple[str, str], float]:
        return dict(self.values)


def test_calls_before_the_first_tick_are_counted() -> None:
    """A call made before the history's first tick shows in last_hour (the counters start at
    zero with the router); it used to become the base and vanish."""
    counters = _Counters()
    history = CallHistory(counters.read, counters.clock)
    counters.now += 5
    counters.values[("normal", "announced_blocked")] = 1.0
    calls, covered = history.last_hour()
    assert calls == {("normal", "announced_blocked"): 1}
    assert covered == 5.0


def test_calls_older_than_the_span_leave_the_window() -> None:
    """After more than an hour of ticks the oldest snapshot is the base: old calls are out."""
    counters = _Counters()
    history = CallHistory(counters.read, counters.clock)
    counters.values[("emergency", "routed_psap")] = 3.0
    steps = int(HISTORY_SPAN_SECONDS // HISTORY_STEP_SECONDS) + 2
    for _ in range(steps):
        counters.now += HISTORY_STEP_SECONDS
        history.tick()
    counters.values[("emergency", "routed_psap")] = 4.0
    calls, _ = history.last_hour()
    assert calls == {("emergency", "routed_psap"): 1}
