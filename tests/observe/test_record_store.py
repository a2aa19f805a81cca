"""Call records in the store, on SQLite and PostgreSQL: one chain under concurrent writers,
append-only triggers, a row changed with SQL caught by `verify`, bodies pruned, the outbox join.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from router.location.model import DEFAULT_ACCOUNT_ID
from router.location.store import Store, open_store
from router.records.chain import GENESIS, document
from router.records.model import pidf_sha256, record_from_outcome
from router.records.store import RecordStore
from tests.observe.conftest import PIDF, outcome, record


def test_appended_records_form_one_chain_from_genesis(store: Store) -> None:
    """Three appends get seq 1..3, link to each other, and move the head."""
    records = RecordStore(store)
    items = [records.append(record(i)) for i in (1, 2, 3)]
    assert [i.seq for i in items] == [1, 2, 3]
    assert items[0].prev_hash == GENESIS
    assert [i.prev_hash for i in items[1:]] == [items[0].hash, items[1].hash]
    assert records.head() == (3, items[2].hash)
    verdict = records.verify()
    assert (verdict.ok, verdict.checked) == (True, 3)


def test_record_reads_back_exactly_as_written(store: Store) -> None:
    """Every field, times to the microsecond, trunks and the PIDF-LO body survive the store."""
    records = RecordStore(store)
    original = record(1, pidf_sha256=pidf_sha256(PIDF), pidf_lo=PIDF, answered_at=None)
    written = records.append(original, now=datetime(2026, 3, 1, 12, 6, 0, 1, tzinfo=UTC))
    assert records.get(original.id) == written
    assert written.record == original


def test_appending_the_same_record_twice_stores_it_once(store: Store) -> None:
    """A spooled record imported by two workers is one record (idempotent on its id)."""
    records = RecordStore(store)
    first = records.append(record(1))
    again = records.append(record(1))
    assert again == first
    assert records.count() == 1


def test_update_and_delete_are_refused_by_the_database(store: Store) -> None:
    """The append-only triggers refuse changing a hashed column and deleting a record."""
    RecordStore(store).append(record(1))
    for statement in ("UPDATE call_records SET trunk_used = 'sip:x' WHERE seq = 1",
                      "DELETE FROM call_records WHERE seq = 1"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as c:
            c.exec_driver_sql(statement)
    assert RecordStore(store).verify().ok


def test_row_changed_with_sql_is_named_by_verify(store: Store) -> None:
    """Someone with DDL rights disables the trigger and edits record 2's callback number:
    `verify` fails and names record 2 by seq and id."""
    records = RecordStore(store)
    for i in (1, 2, 3):
        records.append(record(i))
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("ALTER TABLE call_records DISABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER call_records_no_update")
        conn.exec_driver_sql(
            "UPDATE call_records SET callback_number = '+15555550000' WHERE seq = 2")
    verdict = records.verify()
    assert verdict.broken is not None
    assert (verdict.broken.seq, verdict.broken.id) == (2, record(2).id)
    assert verdict.broken.reason == "its content does not match its hash (a column was changed)"


def test_pruning_bodies_past_retention_keeps_the_chain_valid(store: Store) -> None:
    """Bodies of records older than the cutoff go, their hashes stay, the chain verifies."""
    records = RecordStore(store)
    old = record(1, pidf_sha256=pidf_sha256(PIDF), pidf_lo=PIDF)
    new = record(2, pidf_sha256=pidf_sha256(PIDF), pidf_lo=PIDF,
                 invite_at=old.invite_at + timedelta(days=10))
    records.append(old)
    records.append(new)
    cutoff = old.invite_at + timedelta(days=1)
    assert records.prune_bodies(cutoff) == 1
    assert records.prune_bodies(cutoff) == 0
    pruned = records.get(old.id)
    kept = records.get(new.id)
    assert pruned is not None and kept is not None
    assert (pruned.record.pidf_lo, pruned.record.pidf_sha256) == (None, pidf_sha256(PIDF))
    assert pruned.pidf_pruned_at is not None
    assert kept.record.pidf_lo == PIDF
    assert records.verify().ok


def _append_many(url: str, worker: int, count: int) -> None:
    store = open_store(url, migrate=False)
    try:
        records = RecordStore(store)
        for i in range(count):
            records.append(record(worker * 1000 + i, worker=str(worker)))
    finally:
        store.close()


def test_concurrent_writers_in_four_processes_extend_one_chain(store_url: str,
                                                               store: Store) -> None:
    """Four processes appending 25 records each: 100 records, seq 1..100, one valid chain."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_many, args=(store_url, w, 25))
                 for w in range(1, 5)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    records = RecordStore(store)
    verdict = records.verify()
    assert (verdict.ok, verdict.checked, verdict.last_seq) == (True, 100, 100)
    assert {r.record.worker for r in records.iter_chain()} == {"1", "2", "3", "4"}


def test_notification_outcomes_join_on_the_callers_call_id(store: Store) -> None:
    """The outbox's deliveries for the same Call-ID come back with the record's Call-ID."""
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with store.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO notifications (call_ref, account_id, sip_call_id, test_call, language,"
            " invite_at, recorded_at, via_spool) VALUES ('call_1', :acct, 'call-1@pbx', :f,"
            " 'en', :now, :now, :f)"), {"acct": DEFAULT_ACCOUNT_ID, "now": now, "f": False})
        conn.execute(sa.text(
            "INSERT INTO notification_deliveries (id, call_ref, position, recipient, message_id,"
            " state, attempts, next_attempt_at, possible_duplicate, created_at, sent_at)"
            " VALUES ('dlv_1', 'call_1', 0, 'ops@example.com', '<m1>', 'sent', 1, :now, :f,"
            " :now, :now)"), {"now": now, "f": False})
    joined = RecordStore(store).notifications(["call-1@pbx", "call-2@pbx"])
    assert [(n.recipient, n.state, n.attempts) for n in joined["call-1@pbx"]] == [
        ("ops@example.com", "sent", 1)]
    assert joined["call-2@pbx"] == []


def test_record_says_which_path_carried_the_call(store: Store) -> None:
    """Bridge and front records keep their path; records without one (written before
    migration 0007) hash as they did, so a mixed chain verifies."""
    records = RecordStore(store)
    old = records.append(record(1))
    bridged = records.append(record(2, path="bridge"))
    fronted = records.append(record(3, path="front", result="redirected", final_status=302))
    assert [records.get(r.record.id).record.path for r in (old, bridged, fronted)] == [
        "", "bridge", "front"]
    assert "path" not in document(old.seq, old.recorded_at, old.record)
    assert document(fronted.seq, fronted.recorded_at, fronted.record)["path"] == "front"
    verdict = records.verify()
    assert (verdict.ok, verdict.checked) == (True, 3)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE call_records SET path = 'bridge' WHERE seq = 3"))
    broken = records.verify().broken
    assert broken is not None and broken.seq == 3


def test_outcome_path_reaches_the_record() -> None:
    """The worker's `CallOutcome.path` is copied into the record."""
    for path in ("front", "bridge"):
        made = record_from_outcome(outcome(path=path), ended_at=datetime(2026, 3, 1, tzinfo=UTC),
                                   worker="5060")
        assert made is not None and made.path == path
