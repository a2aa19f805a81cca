"""The store goes away under load: 911s keep being routed, no Kari's Law notice is lost, and the
router recovers by itself when the database answers again.

The router reaches PostgreSQL through a TCP relay this test owns; "stopping the database" closes
the relay (listener and every open connection), so the shared server other tests use is never
touched.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from scripts.loadlib import seed_store
from tests.faults.load import answering_trunk, invites_at, start_load
from tests.support.flaky_store import TcpProxy
from tests.support.processes import wait_until
from tests.support.router_run import requires_kamailio, running_router

pytestmark = [pytest.mark.scenario, pytest.mark.slow, pytest.mark.postgres, requires_kamailio]


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


def test_911s_keep_routing_through_a_store_outage_and_no_notice_is_lost(
    pg_schema_url: str, tmp_path: Path
) -> None:
    """911s at 4/s for 25 s; the database is cut for 10 s in the middle. Every 911 is answered
    (the workers' in-memory view keeps answering), every one gets exactly one notification row
    once the store is back (the workers spool what they could not write), and a 911 placed
    after the outage is located as before."""
    seed_store(pg_schema_url)
    relay = TcpProxy(("127.0.0.1", urlsplit(pg_schema_url).port or 5432))
    relay.up()
    psap = answering_trunk("psap", tmp_path)
    sorting = answering_trunk("sorting", tmp_path)
    try:
        with running_router({"E911_DATABASE_URL": _via(pg_schema_url, relay.port),
                             "E911_TRUNK_PSAP": psap.uri,
                             "E911_TRUNK_SORTING_CENTER": sorting.uri,
                             "E911_EMERGENCY_PATH": "front"}, tmp_path, workers=2) as router:
            load = start_load(router.sip_port, "callers-911.csv", rate=4, calls=100,
                              hold_ms=500, workdir=tmp_path, name="emergency")
            try:
                wait_until(lambda: len(invites_at(psap)) >= 20, 30, "load under way")
                relay.down()
                wait_until(lambda: len(invites_at(psap)) + len(invites_at(sorting)) >= 60, 40,
                           "911s routed while the store is down")
                relay.up()
                stats = load.wait(120)
            finally:
                load.stop()
            assert stats == {"successful": 100, "failed": 0, "offered": 100}
            assert len(invites_at(psap)) + len(invites_at(sorting)) == 100

            def notices() -> int:
                with psycopg.connect(pg_schema_url.split("?")[0],
                                     options=_search_path(pg_schema_url)) as conn:
                    row = conn.execute("SELECT count(*) FROM notifications").fetchone()
                    return int(row[0]) if row else 0

            with contextlib.suppress(AssertionError):
                wait_until(lambda: notices() >= 100, 180, "every 911's notice in the outbox")
            spooled = router.count("e911.notify.spooled")
            assert (notices(), spooled > 0) == (100, True), (
                f"spooled={spooled} imported={router.count('e911.notify.imported')} "
                f"spool_failed={router.count('e911.notify.spool_failed')} "
                f"recorder_failed={router.count('e911.notify.recorder_failed')} "
                f"deferred={router.count('e911.notify.spool_import_deferred')}")
            # The outage was real: notices went to the spool and were imported afterwards.
            assert router.count("e911.notify.imported") > 0
            assert router.count("e911.supervisor.restarted") == 0
    finally:
        relay.down()
        psap.stop()
        sorting.stop()


def _search_path(url: str) -> str:
    query = urlsplit(url).query
    return query.split("options=", 1)[1].replace("%3D", "=").replace("%20", " ") \
        .replace("-csearch_path", "-c search_path") if "options=" in query else ""
