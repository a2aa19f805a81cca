"""`e911-router status`: what needs attention comes first, then one screen of facts. Pure
rendering of the endpoint's /status.json (the end-to-end test reads a live one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from router.commands.status import attention, render

NOW = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)


def status(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": "0.1.0", "uptime_seconds": 7500.0, "calls_window_seconds": 3600.0,
        "children": [{"name": "worker-1", "kind": "worker", "pid": 101, "running": True,
                      "up_seconds": 7500.0, "restarts": 0, "last_exit": None}],
        "slots": {"5081": {"in_use": 2, "free": 2}},
        "trunks": [
            {"trunk": "sip:psap:5060", "purpose": "psap", "up": True, "status": 200,
             "probed": True},
            {"trunk": "sip:sorting:5060", "purpose": "sorting_center", "up": False,
             "status": 0, "probed": True}],
        "calls_last_hour": [{"call_class": "emergency", "outcome": "routed_psap", "calls": 3}],
        "notifications": {"store_up": True, "deliveries": {"pending": 1, "sent": 9},
                          "oldest_pending_seconds": 4.0, "checked_at": ""},
        "worker_restarts": 0.0,
    }
    base.update(changes)
    return base


def test_healthy_router_needs_no_attention_and_shows_every_section() -> None:
    """One trunk of two up is enough; the screen lists processes, slots, trunks, calls."""
    assert attention(status(), {}) == []
    screen = render(status(), {("emergency", "routed_psap"): 3}, "http://x", NOW)
    lines = screen.splitlines()
    assert lines[0] == "e911-router 0.1.0: up 2h05m   2026-03-01 03:00:00Z"
    assert lines[1] == "OK: nothing needs attention"
    assert "  worker-1        pid 101     up 2h05m        restarts 0" in lines
    assert "  worker 5081    2/4 in use" in lines
    assert "  UP    psap            sip:psap:5060  200" in lines
    assert "  DOWN  sorting_center  sip:sorting:5060  no answer" in lines
    assert lines.count("  emergency       routed_psap                  3") == 2
    assert "  pending 1  sending 0  retrying 0  failed 0  sent 9   oldest pending 4 s" in lines


def test_failed_911_no_trunk_stuck_mail_and_dead_worker_come_first() -> None:
    """Each problem is one line at the top, most urgent first."""
    bad = status(
        trunks=[{"trunk": "sip:psap:5060", "purpose": "psap", "up": False, "status": 503,
                 "probed": True}],
        calls_last_hour=[{"call_class": "emergency", "outcome": "failed", "calls": 2}],
        children=[{"name": "worker-1", "kind": "worker", "pid": 0, "running": False,
                   "up_seconds": 0.0, "restarts": 4, "last_exit": -9}],
        notifications={"store_up": True, "deliveries": {"retrying": 1},
                       "oldest_pending_seconds": 95.0, "checked_at": ""})
    assert attention(bad, {}) == [
        "no emergency trunk (PSAP or sorting center) answers OPTIONS",
        "2 emergency call(s) failed in the last hour",
        "not running: worker-1",
        "a notification has been pending for 95 s",
    ]
    assert render(bad, {}, "http://x", NOW).splitlines()[1] == (
        "!! no emergency trunk (PSAP or sorting center) answers OPTIONS")


def test_router_not_answering_still_shows_the_stores_records() -> None:
    """No endpoint: say so, and show the last hour's 911 records from the store."""
    screen = render(None, {("emergency", "failed"): 1}, "http://127.0.0.1:9911", NOW)
    lines = screen.splitlines()
    assert lines[0] == "e911-router: no answer from http://127.0.0.1:9911   2026-03-01 03:00:00Z"
    assert lines[1] == "!! the router is not answering on its metrics endpoint (is it running?)"
    assert "  emergency       failed                       1" in lines
