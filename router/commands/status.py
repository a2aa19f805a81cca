"""`e911-router status`: one screen for the on-call engineer.

Read from the running router's endpoint (`E911_METRICS_LISTEN`, `/status.json`: children,
slots, trunk probes, the store change each worker's location view has applied, calls in the
last hour, the outbox) and then from the store (911/933 call records of the last hour, which
survive a restart of the router, and the store's `change_seq`: the endpoint's own figure is
up to 5 s old while the workers' views poll every 0.5 s, so it could show the store behind
the workers). The first lines say what needs attention, if anything.

Exit codes: 0 nothing needs attention; 1 something does (the router is not answering, no
emergency trunk is up, a 911 call failed in the last hour, notifications are stuck, the store
is down); 2 the settings cannot be read.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from router.commands._common import load_settings_or_none, open_settings_store
from router.kamailio.stats import ANNOUNCE_RESULTS
from router.settings import Settings

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_USAGE = 2
STUCK_NOTIFICATION_SECONDS = 60.0
EMERGENCY_PURPOSES = ("psap", "sorting_center")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("status", help="one screen: workers, trunks, calls, notifications")
    parser.add_argument("--url", help="the router's endpoint (default: http://"
                                      "E911_METRICS_LISTEN)")
    parser.add_argument("--json", action="store_true", help="print the raw status as JSON")
    parser.add_argument("--env-file", help="read this file instead of .env")
    parser.set_defaults(handler=_status_command)


def fetch_status(url: str, timeout: float = 5.0) -> dict[str, Any]:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http URL: {url}")
    with urllib.request.urlopen(f"{url}/status.json", timeout=timeout) as response:  # noqa: S310
        data: dict[str, Any] = json.loads(response.read())
    return data


def attention(status: dict[str, Any] | None, records_hour: dict[tuple[str, str], int]
              ) -> list[str]:
    """What the on-call engineer must look at first, most urgent first. Pure."""
    if status is None:
        return ["the router is not answering on its metrics endpoint (is it running?)"]
    found = []
    trunks = [t for t in status.get("trunks", []) if t["purpose"] in EMERGENCY_PURPOSES]
    if trunks and not any(t["up"] for t in trunks if t["probed"]):
        found.append("no emergency trunk (PSAP or sorting center) answers OPTIONS")
    failed = sum(c["calls"] for c in status.get("calls_last_hour", [])
                 if c["call_class"] == "emergency" and c["outcome"] == "failed")
    failed = max(failed, records_hour.get(("emergency", "failed"), 0))
    if failed:
        found.append(f"{failed} emergency call(s) failed in the last hour")
    down = [c["name"] for c in status.get("children", []) if not c["running"]]
    if down:
        found.append(f"not running: {', '.join(down)}")
    outbox = status.get("notifications", {})
    if not outbox.get("store_up", False):
        found.append("the store is not answering")
    oldest = float(outbox.get("oldest_pending_seconds", 0.0))
    if oldest > STUCK_NOTIFICATION_SECONDS:
        found.append(f"a notification has been pending for {oldest:.0f} s")
    return found


def render(status: dict[str, Any] | None, records_hour: dict[tuple[str, str], int],
           url: str, now: datetime) -> str:
    """The screen. Pure."""
    lines = []
    if status is None:
        lines.append(f"e911-router: no answer from {url}   {now:%Y-%m-%d %H:%M:%S}Z")
    else:
        lines.append(f"e911-router {status['version']}: up {_duration(status['uptime_seconds'])}"
                     f"   {now:%Y-%m-%d %H:%M:%S}Z")
    problems = attention(status, records_hour)
    lines += [f"!! {p}" for p in problems] or ["OK: nothing needs attention"]
    if status is not None:
        lines += ["", "PROCESSES"]
        for c in status["children"]:
            state = f"pid {c['pid']:<7} up {_duration(c['up_seconds'])}" if c["running"] \
                else f"DOWN (last exit {c['last_exit']})"
            lines.append(f"  {c['name']:<16}{state:<28}restarts {c['restarts']}")
        lines += ["", "SLOTS"]
        for worker, states in sorted(status["slots"].items()):
            in_use = states.get("in_use", 0)
            total = in_use + states.get("free", 0)
            lines.append(f"  worker {worker:<8}{in_use}/{total} in use")
        lines += ["", "TRUNKS (OPTIONS probe)"]
        for t in status["trunks"]:
            word = "UP" if t["up"] else ("DOWN" if t["probed"] else "?")
            answer = (str(t["status"]) if t["status"] else "no answer") if t["probed"] else ""
            lines.append(f"  {word:<6}{t['purpose']:<16}{t['trunk']}  {answer}".rstrip())
        lines += _view_lines(status.get("location_views"))
        lines += _announce_lines(status.get("announcements"))
        window = _duration(status["calls_window_seconds"])
        lines += ["", f"CALLS (last {window}, by class and outcome)"]
        lines += [f"  {c['call_class']:<16}{c['outcome']:<24}{c['calls']:>6}"
                  for c in status["calls_last_hour"]] or ["  none"]
    lines += ["", "911/933 CALL RECORDS (last hour, from the store)"]
    lines += [f"  {cls:<16}{outcome:<24}{n:>6}"
              for (cls, outcome), n in sorted(records_hour.items())] or ["  none"]
    if status is not None:
        outbox = status["notifications"]
        counts = outbox.get("deliveries", {})
        lines += ["", "NOTIFICATIONS (emergency contacts)"]
        lines.append("  " + "  ".join(f"{s} {counts.get(s, 0)}" for s in
                                      ("pending", "sending", "retrying", "failed", "sent"))
                     + f"   oldest pending {outbox.get('oldest_pending_seconds', 0):.0f} s")
    return "\n".join(lines) + "\n"


def _view_lines(views: dict[str, Any] | None) -> list[str]:
    """Which store change each worker's location view has applied: a worker behind the store
    still locates callers as they were before the newer writes (it catches up within a poll,
    0.5 s, unless the store is unreachable from it)."""
    if not views:
        return []
    store_seq = views.get("store_change_seq")
    head = f"store change_seq {store_seq}" if store_seq is not None else "store not read yet"
    lines = ["", f"LOCATION VIEWS ({head})"]
    for view in views.get("workers", []):
        seq = int(view["change_seq"])
        behind = f"   {store_seq - seq} behind" if store_seq is not None and seq < store_seq \
            else ""
        lines.append(f"  {view['worker']:<16}change_seq {seq}{behind}")
    return lines


def _announce_lines(counts: dict[str, int] | None) -> list[str]:
    """The front's announcements (issue 16, E911_ANNOUNCE_PATH=front): capped and fallback
    callers got their 403 without hearing the prompt."""
    if not counts:
        return []
    return ["", f"ANNOUNCEMENTS (front, since Kamailio started; playing now "
                f"{counts.get('playing', 0)})",
            "  " + "  ".join(f"{r} {counts.get(r, 0)}" for r in ANNOUNCE_RESULTS)]


def fetch_announcements(url: str, timeout: float = 5.0) -> dict[str, int]:
    """e911_front_announcements* from the endpoint's /metrics ({} when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{url}/metrics", timeout=timeout) as response:  # noqa: S310
        text = response.read().decode()
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "e911_front_announcements_total":
                counts[sample.labels["result"]] = int(sample.value)
            elif sample.name == "e911_front_announcements_playing":
                counts["playing"] = int(sample.value)
    return counts


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def _read_store(settings: Settings, now: datetime) -> tuple[dict[tuple[str, str], int], int]:
    """The last hour's 911/933 records by class and outcome, and the store's change_seq now."""
    from router.records.store import RecordStore

    store = open_settings_store(settings, migrate=False)
    try:
        return RecordStore(store).summary_since(now - timedelta(hours=1)), store.change_seq()
    finally:
        store.close()


def _status_command(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file)
    if settings is None:
        return EXIT_USAGE
    listen = settings.metrics_listen
    host = "127.0.0.1" if listen.host in ("0.0.0.0", "::") else listen.host  # noqa: S104
    url = args.url or f"http://{f'[{host}]' if ':' in host else host}:{listen.port}"
    now = datetime.now(UTC)
    try:
        status: dict[str, Any] | None = fetch_status(url)
    except (OSError, ValueError):
        status = None
    if status is not None:
        with contextlib.suppress(OSError, ValueError):
            status["announcements"] = fetch_announcements(url)
    store_seq: int | None = None
    try:  # after the endpoint: the store is then at or past every view the workers reported
        records_hour, store_seq = _read_store(settings, now)
    except Exception:  # the screen still shows what the router said
        records_hour = {}
    views = status.get("location_views") if status is not None else None
    if store_seq is not None and isinstance(views, dict):
        views["store_change_seq"] = store_seq
    if args.json:
        print(json.dumps({"status": status, "records_last_hour": [
            {"call_class": c, "outcome": o, "calls": n} for (c, o), n in records_hour.items()],
            "attention": attention(status, records_hour)}, indent=2, sort_keys=True))
    else:
        sys.stdout.write(render(status, records_hour, url, now))
    return EXIT_ATTENTION if attention(status, records_hour) else EXIT_OK
