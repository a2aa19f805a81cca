"""Call records written in batches: `append_many` makes the chain record-by-record appends
make, in one transaction; the writer batches what is queued, and falls back to one record at
a time when a batch fails (a record the store refuses, a store outage). SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from router.metrics import REGISTRY
from router.records.chain import GENESIS, link
from router.records.model import CallRecord, ChainedRecord
from router.records.writer import BATCH_LIMIT, RecordSpool, RecordWriter
from router.store.store import Store, open_store
from tests.observe.keyed import KEY, keyed
from tests.observe.samples import record
from tests.support.flaky_store import CommittedWrites, Flaky, flaky_store, on_insert

T0 = datetime(2026, 3, 1, 12, 10, tzinfo=UTC)
T1 = datetime(2026, 3, 1, 12, 11, tzinfo=UTC)


def _count(result: str) -> float:
    return REGISTRY.get_sample_value("e911_call_records_total", {"result": result}) or 0.0


def _chain(store: Store, *steps: tuple[datetime, CallRecord]) -> list[ChainedRecord]:
    """The chain record-by-record appends at these times make (pure, but for reading the
    store's chain id)."""
    chain_id = keyed(store).chain_head().chain_id
    items: list[ChainedRecord] = []
    for at, rec in steps:
        items.append(link(items[-1] if items else None, at, rec, key=KEY, chain_id=chain_id,
                          retain_until=rec.invite_at + timedelta(days=2555)))
    return items


def _record_events(logs: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["event"], e.get("record_id"), e.get("seq"), e.get("store_error"))
            for e in logs if e["event"].startswith("e911.record.")
            and e["event"] != "e911.record.import_deferred"]


@pytest.fixture
def committed_records(store: Store) -> Iterator[CommittedWrites]:
    with CommittedWrites(store.engine, "call_records") as writes:
        yield writes


def test_append_many_makes_the_chain_of_one_by_one_appends(
    store: Store, committed_records: CommittedWrites
) -> None:
    """Records already stored (and repeated ones) come back as stored; the rest join the
    chain in order, in one transaction, exactly as one append each would have linked them."""
    records = keyed(store)
    records.append(record(1), now=T0)
    got = records.append_many([record(1), record(2), record(3), record(2), record(4)], now=T1)
    expected = _chain(store, (T0, record(1)), (T1, record(2)), (T1, record(3)), (T1, record(4)))
    assert got == [expected[0], expected[1], expected[2], expected[1], expected[3]]
    assert list(records.iter_chain()) == expected
    assert records.head() == (4, expected[3].hash)
    assert records.verify().ok
    assert committed_records.rows == [1, 3]


def test_append_many_that_fails_writes_nothing(store: Store) -> None:
    """A record the database refuses (NOT NULL) rolls the whole batch back: head unchanged."""
    records = keyed(store)
    with pytest.raises(sa.exc.IntegrityError):
        records.append_many([record(1), record(2, dialed=None)], now=T1)
    assert (records.count(), records.head()) == (0, (0, GENESIS))
    assert records.append_many([], now=T1) == []


def test_burst_of_queued_records_is_written_in_one_transaction(
    store: Store, tmp_path: Path, committed_records: CommittedWrites
) -> None:
    """50 records queued at once: one transaction of 50 rows, a `written` event and count each,
    in submit order; the chain is the one 50 single appends would make."""
    writer = RecordWriter(keyed(store), RecordSpool(tmp_path / "spool"),
                          retention_days=30, clock=lambda: T1)
    burst = [record(n) for n in range(1, 51)]
    for rec in burst:
        writer.submit(rec)  # not started yet: all queued before the thread takes the first
    before = _count("written")
    with capture_logs() as logs:
        writer.start()
        assert writer.flush(30)
        writer.stop()
    assert committed_records.rows == [50]
    assert _record_events(logs) == [
        ("e911.record.written", rec.id, n, None) for n, rec in enumerate(burst, 1)]
    assert _count("written") == before + 50
    assert list(keyed(store).iter_chain()) == _chain(store, *[(T1, rec) for rec in burst])
    assert keyed(store).verify().ok


def test_a_batch_takes_at_most_the_limit(store: Store, tmp_path: Path,
                                         committed_records: CommittedWrites) -> None:
    """BATCH_LIMIT + 5 queued records: one full batch, then the 5 left."""
    writer = RecordWriter(keyed(store), RecordSpool(tmp_path / "spool"),
                          retention_days=30, clock=lambda: T1)
    for n in range(1, BATCH_LIMIT + 6):
        writer.submit(record(n))
    writer.start()
    assert writer.flush(60)
    writer.stop()
    assert committed_records.rows == [BATCH_LIMIT, 5]
    assert keyed(store).verify().ok


def test_a_record_the_store_refuses_is_spooled_and_the_rest_of_its_batch_written(
    store: Store, tmp_path: Path, committed_records: CommittedWrites
) -> None:
    """Record 3 of 5 breaks a NOT NULL: the batch rolls back, the writer appends one by one:
    1, 2, 4, 5 join the chain (seq 1-4), 3 goes to the spool, as without batching."""
    spool = RecordSpool(tmp_path / "spool")
    writer = RecordWriter(keyed(store), spool, retention_days=30, clock=lambda: T1)
    bad = record(3, dialed=None)
    for rec in (record(1), record(2), bad, record(4), record(5)):
        writer.submit(rec)
    written, spooled = _count("written"), _count("spooled")
    with capture_logs() as logs:
        writer.start()
        assert writer.flush(30)
        writer.stop()
    assert [(e["records"], e["error"]) for e in logs
            if e["event"] == "e911.record.batch_failed"] == [(5, "IntegrityError")]
    assert _record_events(logs) == [
        ("e911.record.batch_failed", None, None, None),
        ("e911.record.written", record(1).id, 1, None),
        ("e911.record.written", record(2).id, 2, None),
        ("e911.record.spooled", bad.id, None, "IntegrityError"),
        ("e911.record.written", record(4).id, 3, None),
        ("e911.record.written", record(5).id, 4, None),
    ]
    assert committed_records.rows == [1, 1, 1, 1]
    assert (_count("written"), _count("spooled")) == (written + 4, spooled + 1)
    assert [r for _, r in spool.items()] == [bad]
    good = [record(1), record(2), record(4), record(5)]
    assert list(keyed(store).iter_chain()) == _chain(store, *[(T1, rec) for rec in good])


@pytest.fixture
def flaky(store_url: str, tmp_path: Path) -> Iterator[Flaky]:
    with flaky_store(store_url, tmp_path) as store:
        yield store


def test_store_outage_mid_batch_spools_every_record_and_imports_each_once(
    flaky: Flaky, tmp_path: Path
) -> None:
    """The store goes away as the batch inserts (PostgreSQL: the connection is cut under the
    INSERT; SQLite: the database's directory is gone before it): the batch fails, each record
    then fails alone and is spooled. Store back: the import appends each once, in order."""
    spool = RecordSpool(tmp_path / "spool")
    sink = keyed(flaky.target)
    writer = RecordWriter(sink, spool, retention_days=30, clock=lambda: T1)
    burst = [record(n) for n in range(1, 6)]
    for rec in burst:
        writer.submit(rec)
    if flaky.target.dialect == "sqlite":
        flaky.down()
    else:
        on_insert(flaky.target.engine, "call_records", flaky.down)
    spooled = _count("spooled")
    with CommittedWrites(flaky.target.engine, "call_records") as writes, capture_logs() as logs:
        writer.start()
        assert writer.flush(60)
        writer.stop()
    assert writes.rows == []
    assert [(e["records"], e["error"]) for e in logs
            if e["event"] == "e911.record.batch_failed"] == [(5, "OperationalError")]
    assert [(e["record_id"], e["store_error"]) for e in logs
            if e["event"] == "e911.record.spooled"] == [
        (rec.id, "OperationalError") for rec in burst]
    assert _count("spooled") == spooled + 5
    assert spool.count() == 5

    flaky.up()
    up = open_store(flaky.url)
    try:
        importer = RecordWriter(keyed(up), spool, retention_days=30, clock=lambda: T1)
        assert importer.import_spool() == 5
        assert importer.import_spool() == 0
        assert list(keyed(up).iter_chain()) == _chain(up, *[(T1, rec) for rec in burst])
        assert keyed(up).verify().ok
    finally:
        up.close()
