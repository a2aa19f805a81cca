"""Call records in the store, on SQLite and PostgreSQL: one chain under concurrent writers,
append-only triggers, a row changed with SQL caught by `verify`, bodies pruned, the outbox join.
"""

from __future__ import annotations

import json
import multiprocessing
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from router.db import migrations, schema
from router.db.engine import make_engine
from router.location.model import DEFAULT_ACCOUNT_ID
from router.records.chain import GENESIS, LEGACY_VERSION, Verdict, document, legacy_hash
from router.records.heads import HeadLog
from router.records.key import RecordKeyError
from router.records.model import ChainedRecord, pidf_sha256, record_from_outcome
from router.records.store import RecordKeyMismatch, RecordStore, _row_of
from router.store.store import Store, open_store
from tests.observe.keyed import (
    KEY,
    KEY_TEXT,
    OTHER_KEY,
    PRUNE_NOW,
    assert_prune_refused,
    keyed,
    triggers_off,
)
from tests.observe.samples import PIDF, outcome, record

RECORDED = datetime(2026, 3, 1, 12, 6, tzinfo=UTC)


def test_appended_records_form_one_chain_from_genesis(store: Store) -> None:
    """Three appends get seq 1..3, link to each other, and move the head."""
    records = keyed(store)
    items = [records.append(record(i)) for i in (1, 2, 3)]
    assert [i.seq for i in items] == [1, 2, 3]
    assert items[0].prev_hash == GENESIS
    assert [i.prev_hash for i in items[1:]] == [items[0].hash, items[1].hash]
    assert records.head() == (3, items[2].hash)
    verdict = records.verify()
    assert (verdict.ok, verdict.checked) == (True, 3)


def test_record_reads_back_exactly_as_written(store: Store) -> None:
    """Every field, times to the microsecond, trunks and the PIDF-LO body survive the store."""
    records = keyed(store)
    original = record(1, pidf_sha256=pidf_sha256(PIDF), pidf_lo=PIDF, answered_at=None)
    written = records.append(original, now=datetime(2026, 3, 1, 12, 6, 0, 1, tzinfo=UTC))
    assert records.get(original.id) == written
    assert written.record == original


def test_appending_the_same_record_twice_stores_it_once(store: Store) -> None:
    """A spooled record imported by two workers is one record (idempotent on its id)."""
    records = keyed(store)
    first = records.append(record(1))
    again = records.append(record(1))
    assert again == first
    assert records.count() == 1


def test_update_and_delete_are_refused_by_the_database(store: Store) -> None:
    """The append-only triggers refuse changing a hashed column and deleting a record."""
    keyed(store).append(record(1))
    for statement in ("UPDATE call_records SET trunk_used = 'sip:x' WHERE seq = 1",
                      "DELETE FROM call_records WHERE seq = 1"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as c:
            c.exec_driver_sql(statement)
    assert keyed(store).verify().ok


def test_row_changed_with_sql_is_named_by_verify(store: Store) -> None:
    """Someone with DDL rights disables the trigger and edits record 2's callback number:
    `verify` fails and names record 2 by seq and id."""
    records = keyed(store)
    for i in (1, 2, 3):
        records.append(record(i))
    with store.engine.begin() as conn:
        triggers_off(store, conn)
        conn.exec_driver_sql(
            "UPDATE call_records SET callback_number = '+15555550000' WHERE seq = 2")
    verdict = records.verify()
    assert verdict.broken is not None
    assert (verdict.broken.seq, verdict.broken.id) == (2, record(2).id)
    assert verdict.broken.reason == "its content does not match its hash (a column was changed)"


def test_pruning_bodies_past_retention_keeps_the_chain_valid(store: Store) -> None:
    """Bodies whose retention date has passed go, their hashes stay, the chain verifies;
    a body still within its retention stays."""
    records = keyed(store, retention_days=1)
    old = record(1, pidf_sha256=pidf_sha256(PIDF), pidf_lo=PIDF)
    new = record(2, pidf_sha256=pidf_sha256(PIDF), pidf_lo=PIDF,
                 invite_at=old.invite_at + timedelta(days=10))
    records.append(old)
    records.append(new)
    now = old.invite_at + timedelta(days=2)
    assert records.prune_bodies(now) == 1
    assert records.prune_bodies(now) == 0
    pruned = records.get(old.id)
    kept = records.get(new.id)
    assert pruned is not None and kept is not None
    assert (pruned.record.pidf_lo, pruned.record.pidf_sha256) == (None, pidf_sha256(PIDF))
    assert pruned.pidf_pruned_at == now
    assert pruned.retain_until == old.invite_at + timedelta(days=1)
    assert kept.record.pidf_lo == PIDF
    assert records.verify().ok


def _set(store: Store, sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def test_database_refuses_pruning_a_body_before_its_retention_date(store: Store) -> None:
    """Issue 13 finding 11: `pidf_lo = NULL, pidf_pruned_at = now` on a minutes-old record is
    refused by the trigger; so is a prune date before `retain_until`, a body put back, or a
    second prune date. Once `retain_until` has passed, pruning goes through."""
    now = datetime.now(UTC)
    fresh = record(1, invite_at=now - timedelta(minutes=5), answered_at=None,
                   ended_at=now - timedelta(minutes=4), pidf_lo=PIDF,
                   pidf_sha256=pidf_sha256(PIDF))
    due = record(2, invite_at=now - timedelta(days=3), answered_at=None,
                 ended_at=now - timedelta(days=3), pidf_lo=PIDF, pidf_sha256=pidf_sha256(PIDF))
    records = keyed(store, retention_days=1)
    records.append(fresh)
    records.append(due)
    assert_prune_refused(store, 1)
    for seq, at in ((1, now + timedelta(days=2)), (2, now - timedelta(days=2, hours=1))):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            _set(store, PRUNE_NOW, seq=seq, t=at)
    _set(store, PRUNE_NOW, seq=2, t=now)
    for sql in ("UPDATE call_records SET pidf_lo = 'x' WHERE seq = 2",
                "UPDATE call_records SET pidf_pruned_at = :at WHERE seq = 2",
                "UPDATE call_records SET retain_until = :at WHERE seq = 1",
                "UPDATE call_records SET path = 'front' WHERE seq = 1",
                "UPDATE call_records SET chain_version = 1 WHERE seq = 1"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            _set(store, sql, at=now - timedelta(days=9))
    stored = records.get(fresh.id)
    assert stored is not None and stored.record.pidf_lo == PIDF
    assert records.verify().ok


def test_an_appender_or_verifier_with_another_key_is_refused(store: Store) -> None:
    """Once the chain is keyed, an append with another key raises instead of forking the
    chain, and so does verify; without a key neither runs."""
    keyed(store).append(record(1))
    with pytest.raises(RecordKeyMismatch, match="keyed with key id"):
        keyed(store, key=OTHER_KEY).append(record(2))
    with pytest.raises(RecordKeyMismatch):
        keyed(store, key=OTHER_KEY).verify()
    with pytest.raises(RecordKeyError, match="no records key"):
        RecordStore(store).append(record(2))
    assert keyed(store).count() == 1
    assert keyed(store).verify().ok


def test_every_append_logs_the_new_head_to_the_head_log_and_the_log(
    store: Store, tmp_path: Path
) -> None:
    """Each committed append writes one signed head line (chain, seq, hash) to the head log
    and one `e911.records.chain_head` event with the same fields; the key is in neither."""
    head_log = tmp_path / "heads.jsonl"
    records = keyed(store, head_log=head_log)
    with capture_logs() as logs:
        first = records.append(record(1))
        second = records.append_many([record(2), record(3)])[-1]
        records.append(record(1))  # already stored: no new head
    lines = [json.loads(line) for line in head_log.read_text().splitlines()]
    chain_id = records.chain_head().chain_id
    assert [(h["chain"], h["seq"], h["hash"], h["key_id"]) for h in lines] == [
        (chain_id, 1, first.hash, KEY.key_id), (chain_id, 3, second.hash, KEY.key_id)]
    events = [e for e in logs if e["event"] == "e911.records.chain_head"]
    assert [{k: e[k] for k in lines[0]} for e in events] == lines
    assert KEY_TEXT not in head_log.read_text()
    assert stat.S_IMODE(head_log.stat().st_mode) == 0o600
    found = HeadLog(head_log).read(KEY, chain_id)
    assert ([(h.seq, h.hash) for h in found.heads], found.forged) == (
        [(1, first.hash), (3, second.hash)], ())
    assert HeadLog(head_log).read(OTHER_KEY, chain_id).forged == (
        f"{head_log} line 1: the head of record 1 is not signed with this key",
        f"{head_log} line 2: the head of record 3 is not signed with this key")


def _migrate_to(url: str, version: int) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execution_options(e911_write=True)
            with conn.begin():
                schema.schema_migrations.create(conn, checkfirst=True)
                for step in migrations.discover()[:version]:
                    step.upgrade(conn)
                    conn.execute(schema.schema_migrations.insert().values(
                        version=step.version, name=step.name, applied_at=datetime.now(UTC)))
    finally:
        engine.dispose()


def test_records_written_before_the_keyed_chain_migrate_and_keep_verifying(
    store_url: str,
) -> None:
    """Migration 0008 on a store with version 1 (SHA-256) records: they stay as chained,
    get version 1 and a retention date (default retention, or their prune date), the first
    keyed record links to the last of them, and the whole chain verifies."""
    _migrate_to(store_url, 7)
    legacy_body = record(1, pidf_lo=PIDF, pidf_sha256=pidf_sha256(PIDF))
    legacy_pruned = record(2, pidf_lo=None, pidf_sha256=pidf_sha256(PIDF))
    pruned_at = datetime(2026, 3, 2, tzinfo=UTC)
    rows, prev = [], GENESIS
    for seq, rec in ((1, legacy_body), (2, legacy_pruned)):
        hash_ = legacy_hash(prev, seq, RECORDED, rec)
        row = _row_of(ChainedRecord(seq, RECORDED, rec, prev, hash_,
                                    pruned_at if seq == 2 else None))
        rows.append({k: v for k, v in row.items() if k not in ("chain_version", "retain_until")})
        prev = hash_
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(schema.call_records.insert(), rows)
            conn.execute(schema.call_record_head.update().values(seq=2, hash=prev))
    finally:
        engine.dispose()
    store = open_store(store_url)
    try:
        records = keyed(store)
        before = records.verify()
        assert (before.ok, before.legacy, before.keyed) == (True, 2, 0)
        old = [records.get(r.id) for r in (legacy_body, legacy_pruned)]
        assert [(o.version, o.retain_until) for o in old if o is not None] == [
            (1, legacy_body.invite_at + timedelta(days=2555)), (1, pruned_at)]
        third = records.append(record(3))
        assert (third.version, third.prev_hash) == (2, prev)
        after = records.verify()
        assert (after.ok, after.legacy, after.keyed, after.last_seq) == (True, 2, 1, 3)
        assert len(records.chain_head().chain_id) == 32
        assert_prune_refused(store, 1)
    finally:
        store.close()


def _append_many(url: str, worker: int, count: int) -> None:
    store = open_store(url, migrate=False)
    try:
        records = keyed(store)
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
    records = keyed(store)
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
    joined = keyed(store).notifications(["call-1@pbx", "call-2@pbx"])
    assert [(n.recipient, n.state, n.attempts) for n in joined["call-1@pbx"]] == [
        ("ops@example.com", "sent", 1)]
    assert joined["call-2@pbx"] == []


def test_record_says_which_path_carried_the_call(store: Store) -> None:
    """Bridge and front records keep their path; a legacy (version 1) document hashes `path`
    only when set, a keyed one always; changing it with the trigger off breaks the chain."""
    records = keyed(store)
    old = records.append(record(1))
    bridged = records.append(record(2, path="bridge"))
    fronted = records.append(record(3, path="front", result="redirected", final_status=302))
    stored = [records.get(r.record.id) for r in (old, bridged, fronted)]
    assert [s.record.path for s in stored if s is not None] == ["", "bridge", "front"]
    assert "path" not in document(old.seq, old.recorded_at, old.record, version=LEGACY_VERSION)
    assert document(old.seq, old.recorded_at, old.record)["path"] == ""
    verdict = records.verify()
    assert (verdict.ok, verdict.checked) == (True, 3)
    with store.engine.begin() as conn:
        triggers_off(store, conn)
        conn.execute(sa.text("UPDATE call_records SET path = 'bridge' WHERE seq = 3"))
    broken = records.verify().broken
    assert broken is not None and broken.seq == 3


def test_outcome_path_reaches_the_record() -> None:
    """The worker's `CallOutcome.path` is copied into the record."""
    for path in ("front", "bridge"):
        made = record_from_outcome(outcome(path=path), ended_at=datetime(2026, 3, 1, tzinfo=UTC),
                                   worker="5060")
        assert made is not None and made.path == path


def test_verify_while_workers_append_sees_one_consistent_chain(store: Store) -> None:
    """Appends committed while `verify` walks a long chain (several read batches) are not a
    break: the head and the records are read from one snapshot."""
    records = keyed(store)
    records.append_many([record(n) for n in range(1, 2201)])
    done = threading.Event()

    def append_more() -> None:
        try:
            for n in range(2201, 2241):
                records.append(record(n))
        finally:
            done.set()

    appender = threading.Thread(target=append_more)
    appender.start()
    verdicts: list[Verdict] = []
    try:
        while not done.is_set() and len(verdicts) < 20:
            verdicts.append(records.verify())
    finally:
        appender.join(60)
    assert verdicts and all(v.ok for v in verdicts), [v.broken for v in verdicts if v.broken]
    assert records.verify().last_seq == 2240
