#!/usr/bin/env python3
"""Kari's Law notification latency, end to end through SIP: SIPp places N 911 calls through a
real worker; the worker's recorder writes the outbox (SQLite); a real `e911-router notify
sender` process e-mails the contact over SMTP to aiosmtpd on loopback. Prints markdown.

Measured:
  - INVITE -> e-mail accepted: from the notice's timestamp (taken on the SIP thread when the
    worker decides the route, within a millisecond of the INVITE's arrival) to the moment
    the SMTP server has the whole message (its handler runs before the 250 goes back).
  - 911 setup with SMTP reachable / unreachable: the worker's own `setup_ms` (INVITE in ->
    final answer upstream) for the same calls, once with the SMTP server up and once with
    the sender pointed at a closed port: the notification must not change it.

    .venv/bin/python scripts/bench_notify.py [--calls 100] [--rate 2]

The rate stays under what one worker bridges (2 emergency calls at once, each held ~0.4 s
by the SIPp scenario); a faster rate measures the no-slot path, not the notification.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from router.db import schema
from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    Callback,
    CallbackPreference,
    ValidatedAddress,
)
from router.observe import configure_logging
from router.store.store import open_store
from tests.support.paths import PROMPTS
from tests.support.ports import free_port
from tests.support.seeded_store import OFFICE
from tests.support.sender_process import spawn_sender
from tests.support.sipp import run_uac, start_uas
from tests.support.smtp_server import SmtpServer
from tests.support.worker import start_worker


def seed(url: str) -> None:
    store = open_store(url)
    try:
        office = ValidatedAddress(OFFICE, msag_id="MSAG-BENCH-1", esn="101")
        store.set_contacts(DEFAULT_ACCOUNT_ID, ["ops@example.com"])
        store.update_account(DEFAULT_ACCOUNT_ID, default_address=office,
                             callback=Callback("Acme Dispatch", "+14065550100", "en"))
        store.update_account(DEFAULT_ACCOUNT_ID, enabled=True)
        store.upsert_user(DEFAULT_ACCOUNT_ID, "1001", display_name="Ada Lovelace",
                          callback_number="+14065551001", language="en",
                          callback_preference=CallbackPreference.OWN)
        saved = store.add_address(DEFAULT_ACCOUNT_ID, "1001", office, label="office")
        store.bind(DEFAULT_ACCOUNT_ID, "1001", saved.id, "127.0.0.1")
    finally:
        store.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def invite_times(url: str) -> dict[str, float]:
    n = schema.notifications
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(n.c.call_ref, n.c.invite_at)).all()
    finally:
        engine.dispose()
    return {ref: at.timestamp() for ref, at in rows}


def run_phase(workdir: Path, url: str, smtp_url: str, calls: int, rate: float,
              smtp: SmtpServer | None = None) -> tuple[int, list[float]]:
    sender = spawn_sender(url, smtp_url, workdir, poll_seconds=0.25)
    psap = start_uas("uas-psap-answer", workdir)
    worker = start_worker({
        "E911_DATABASE_URL": url, "E911_TRUSTED_PEERS": "127.0.0.1/32",
        "E911_PBX_PEERS": "127.0.0.1/32", "E911_PROMPTS_DIR": str(PROMPTS),
        "E911_TRUNK_PSAP": psap.uri, "E911_TRUNK_SORTING_CENTER": "sip:127.0.0.1:9",
        "E911_TRUNK_OUTBOUND": "sip:127.0.0.1:9", "E911_LOG_LEVEL": "info",
    }, free_port(), cwd=workdir)
    try:
        result = run_uac("uac-911-expect-200", worker.port, workdir, service="911",
                         calls=calls, rate=rate, timeout=calls / rate + 60)
        deadline = time.monotonic() + 30
        while worker.count("e911.notify.recorded") < calls and time.monotonic() < deadline:
            time.sleep(0.05)
        setups = [float(e["setup_ms"]) for e in worker.events  # type: ignore[arg-type]
                  if e.get("event") == "e911.call.ended"]
        failed = calls - sum(1 for e in worker.events if e.get("event") == "e911.call.ended"
                             and e.get("result") == "bridged")
        if result.returncode != 0:
            print(f"SIPp: exit {result.returncode}: {result.errors[-500:]}", file=sys.stderr)
            failed = max(failed, 1)
        if smtp is not None:
            smtp.handler.wait_for(calls, timeout=60)
        return failed, setups
    finally:
        worker.stop()
        psap.stop()
        sender.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--rate", type=float, default=2.0, help="calls per second")
    args = parser.parse_args()
    configure_logging("warning", "json")  # stdout is the markdown section; logs go to stderr

    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp:
        root = Path(tmp)
        up_dir, down_dir = root / "up", root / "down"
        up_dir.mkdir()
        down_dir.mkdir()
        up_url, down_url = f"sqlite:///{up_dir}/e911.db", f"sqlite:///{down_dir}/e911.db"
        seed(up_url)
        seed(down_url)

        smtp = SmtpServer().start()
        try:
            up_failed, up_setups = run_phase(up_dir, up_url, smtp.url, args.calls, args.rate,
                                             smtp)
            received = smtp.handler.wait_for(args.calls, timeout=1)
        finally:
            smtp.stop()
        invited = invite_times(up_url)
        latencies = [r.at - invited[str(r.message["X-E911-Call-Ref"])] for r in received]

        down_failed, down_setups = run_phase(down_dir, down_url,
                                                f"smtp://127.0.0.1:{free_port()}",
                                                args.calls, args.rate)
        recorded_down = len(invite_times(down_url))

    ms = [v * 1000 for v in latencies]
    print(f"Kari's Law notification, {args.calls} SIPp 911 calls at {args.rate:g}/s through one "
          "worker (SQLite store, `notify sender` process polling every 0.25 s, aiosmtpd on "
          "loopback).\n")
    print("| measure | p50 | p99 | max | calls |")
    print("|---|---|---|---|---|")
    print(f"| INVITE -> e-mail accepted by the SMTP server | {statistics.median(ms):.0f} ms | "
          f"{pct(ms, 0.99):.0f} ms | {max(ms):.0f} ms | {len(ms)} e-mails |")
    for label, setups, failed in (("911 setup, SMTP reachable", up_setups, up_failed),
                                  ("911 setup, SMTP unreachable", down_setups, down_failed)):
        print(f"| {label} | {statistics.median(setups):.1f} ms | {pct(setups, 0.99):.1f} ms | "
              f"{max(setups):.1f} ms | {len(setups)} calls, {failed} not bridged |")
    print(f"\nWith SMTP unreachable every call was still recorded ({recorded_down} of "
          f"{args.calls} notifications in the outbox, retrying).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
