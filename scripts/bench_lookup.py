#!/usr/bin/env python3
"""Binding lookup latency with N users (default 100,000), each with one saved address bound
to its own IP, on SQLite and PostgreSQL. Prints a markdown table.

Measured per engine:
  - view locate, bound:    `LocationView.locate()` for a user on their bound network (the SIP path)
  - view locate, unbound:  same user on another network, answered by an admin network
  - store locate, bound:   `Store.locate()` straight from the database (the API's lookup)
  - store locate, unbound: the same miss through the database
  - view first load:       one full snapshot load of all N bindings (a worker starting)
  - view refresh:          the poller's rebuild after one new binding (what a change costs)

    .venv/bin/python scripts/bench_lookup.py [--users 100000] [--engines sqlite,postgresql]

The users are bulk-inserted with one executemany per table (the API would take minutes for
100,000 and is not what is measured). PostgreSQL runs in a throw-away schema of `test`.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import quote

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from router.db import schema
from router.location.civic import CivicAddress
from router.location.model import DEFAULT_ACCOUNT_ID, Located, ValidatedAddress
from router.location.view import LocationView, build_snapshot
from router.store.civic_json import civic_to_json
from router.store.ids import new_id
from router.store.store import Store, open_store

BOUND_BASE = int(IPv4Address("100.64.0.0"))
"""User i is bound at 100.64.0.0 + i (RFC 6598 space, so it never looks like a real site)."""
SITE_NETWORKS = 256
"""Admin networks 172.16.<k>.0/24, plus a 172.16.0.0/12 that contains them all."""


def seed(store: Store, users: int) -> ValidatedAddress:
    civic = CivicAddress(
        country="US", state="MT", street_name="LARAMIE", house_number="105",
        prefix_directional="E", street_suffix="ST", city="WHITE SULPHUR SPRINGS",
        postal_code="59645",
    )
    civic_json = civic_to_json(civic)
    now = datetime.now(UTC)
    user_rows, address_rows, binding_rows = [], [], []
    for i in range(users):
        sip_user = f"u{i:06d}"
        address_id = new_id("adr")
        ip = str(IPv4Address(BOUND_BASE + i))
        user_rows.append({
            "account_id": DEFAULT_ACCOUNT_ID, "sip_user": sip_user, "display_name": sip_user,
            "callback_number": None, "language": None, "callback_preference": "account",
            "created_at": now, "updated_at": now,
        })
        address_rows.append({
            "id": address_id, "account_id": DEFAULT_ACCOUNT_ID, "sip_user": sip_user,
            "label": "home", "civic": civic_json, "msag_id": f"M{i}", "esn": "00100",
            "created_at": now,
        })
        binding_rows.append({
            "address_id": address_id, "account_id": DEFAULT_ACCOUNT_ID, "sip_user": sip_user,
            "network": f"{ip}/32", "registered_ip": ip, "bound_at": now,
        })
    with store.engine.begin() as conn:
        for table, rows in ((schema.users, user_rows), (schema.addresses, address_rows),
                            (schema.bindings, binding_rows)):
            for start in range(0, len(rows), 10_000):
                conn.execute(table.insert(), rows[start:start + 10_000])
        conn.execute(schema.change_seq.update().values(seq=schema.change_seq.c.seq + 1))
    site = ValidatedAddress(civic.with_changes(house_number="1"), "SITE", "00100")
    store.add_network(DEFAULT_ACCOUNT_ID, "172.16.0.0/12", address=site, label="campus")
    for k in range(SITE_NETWORKS):
        store.add_network(DEFAULT_ACCOUNT_ID, f"172.16.{k}.0/24", address=site, label=f"f{k}")
    return site


def measure(fn: Callable[[int], object], samples: int, population: int) -> list[float]:
    rng = random.Random(911)
    picks = [rng.randrange(population) for _ in range(samples)]
    for i in picks[:500]:  # warm-up: caches, pool, prepared plans
        fn(i)
    out = []
    for i in picks:
        start = time.perf_counter_ns()
        fn(i)
        out.append((time.perf_counter_ns() - start) / 1000)
    return out


def row(engine: str, what: str, micros: list[float], unit: str = "µs") -> str:
    scale = 1000.0 if unit == "ms" else 1.0
    q = statistics.quantiles(micros, n=100, method="inclusive")
    return (f"| {engine} | {what} | {len(micros):,} | {q[49] / scale:,.1f} {unit} "
            f"| {q[98] / scale:,.1f} {unit} | {max(micros) / scale:,.1f} {unit} |")


def bench(engine: str, url: str, users: int, view_samples: int, store_samples: int) -> list[str]:
    store = open_store(url)
    try:
        started = time.perf_counter()
        site = seed(store, users)
        print(f"{engine}: seeded {users:,} users in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
        full_loads = []
        for _ in range(3):  # a worker's first load: read and index every binding
            started = time.perf_counter()
            build_snapshot(store.load_view_rows())
            full_loads.append((time.perf_counter() - started) * 1e6)
        view = LocationView(store)
        view.refresh()
        refreshes = []
        for k in range(5):  # what one change costs the poller: reuse all, add one binding
            saved = store.add_address(DEFAULT_ACCOUNT_ID, f"new{k}", site, label="bench")
            store.bind(DEFAULT_ACCOUNT_ID, f"new{k}", saved.id, f"192.0.2.{k + 1}")
            started = time.perf_counter()
            assert view.refresh()
            refreshes.append((time.perf_counter() - started) * 1e6)
        acct = DEFAULT_ACCOUNT_ID

        def bound_ip(i: int) -> str:
            return str(IPv4Address(BOUND_BASE + i))

        def site_ip(i: int) -> str:
            return f"172.16.{i % SITE_NETWORKS}.{1 + i % 250}"

        check = view.locate(acct, "u000042", bound_ip(42))
        assert isinstance(check, Located) and check.msag_id == "M42", check
        check = store.locate(acct, "u000042", bound_ip(42))
        assert isinstance(check, Located) and check.msag_id == "M42", check
        check = view.locate(acct, "u000042", site_ip(42))
        assert isinstance(check, Located) and check.msag_id == "SITE", check
        lines = [
            row(engine, "view locate, bound", measure(
                lambda i: view.locate(acct, f"u{i:06d}", bound_ip(i)), view_samples, users)),
            row(engine, "view locate, unbound (admin /24)", measure(
                lambda i: view.locate(acct, f"u{i:06d}", site_ip(i)), view_samples, users)),
            row(engine, "store locate, bound", measure(
                lambda i: store.locate(acct, f"u{i:06d}", bound_ip(i)), store_samples, users)),
            row(engine, "store locate, unbound (admin /24)", measure(
                lambda i: store.locate(acct, f"u{i:06d}", site_ip(i)), store_samples, users)),
            row(engine, f"view first load ({users:,} bindings)", full_loads, "ms"),
            row(engine, "view refresh after one bind", refreshes, "ms"),
        ]
        return lines
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--view-samples", type=int, default=100_000)
    parser.add_argument("--store-samples", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    lines = ["| engine | operation | samples | p50 | p99 | max |",
             "|---|---|---:|---:|---:|---:|"]
    for engine in args.engines.split(","):
        if engine == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                lines += bench("SQLite", f"sqlite:///{tmp}/e911.db", args.users,
                               args.view_samples, args.store_samples)
        elif engine == "postgresql":
            bench_schema = f"e911_bench_{secrets.token_hex(4)}"
            with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{bench_schema}"')
            try:
                url = f"{args.postgres_url}?options={quote(f'-csearch_path={bench_schema}')}"
                lines += bench("PostgreSQL", url, args.users, args.view_samples,
                               args.store_samples)
            finally:
                with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{bench_schema}" CASCADE')
        else:
            parser.error(f"unknown engine {engine!r}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
