"""The call-record writer: off the SIP thread, spools when the store is down, imports later."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from router.metrics import REGISTRY
from router.records.heads import HeadLog
from router.records.model import CallRecord, pidf_sha256
from router.records.store import RecordStore
from router.records.writer import RecordSpool, RecordWriter, record_from_json, record_to_json
from router.store.store import Store, open_store
from tests.observe.keyed import KEY, OTHER_KEY, keyed
from tests.observe.samples import PIDF, record


def _count(result: str) -> float:
    return REGISTRY.get_sample_value("e911_call_records_total", {"result": result}) or 0.0


def test_spool_json_round_trips_every_field() -> None:
    """A spooled record reads back equal, times and trunks included."""
    original = record(3, pidf_lo=PIDF, pidf_sha256="ab" * 32, answered_at=None)
    assert record_from_json(record_to_json(original)) == original


def _through(writer: RecordWriter, *records: CallRecord) -> list[MutableMapping[str, Any]]:
    """Start `writer`, submit `records`, wait until each is written (store or spool), stop it;
    the log events of that time."""
    writer.start()
    try:
        with capture_logs() as logs:
            for item in records:
                writer.submit(item)
            assert writer.flush(15)
    finally:
        writer.stop()
    return logs


def test_submitted_record_is_written_by_the_thread(store: Store, tmp_path: Path) -> None:
    """submit() returns at once; the thread appends and logs e911.record.written."""
    writer = RecordWriter(keyed(store), RecordSpool(tmp_path / "spool"),
                          retention_days=30)
    before = _count("written")
    logs = _through(writer, record(1))
    assert keyed(store).count() == 1
    assert _count("written") == before + 1
    assert [(e["event"], e["record_id"], e["seq"]) for e in logs
            if e["event"].startswith("e911.record.")] == [("e911.record.written", record(1).id, 1)]


def test_store_down_spools_then_imports_when_back(tmp_path: Path) -> None:
    """With the database unreachable the record lands in the spool (never raised to the
    caller); once the store answers, the import appends it to the chain and removes the file."""
    spool = RecordSpool(tmp_path / "spool")
    down = open_store("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1", migrate=False)
    writer = RecordWriter(keyed(down), spool, retention_days=30)
    before = _count("spooled")
    try:
        logs = _through(writer, record(1))
    finally:
        down.close()
    assert _count("spooled") == before + 1
    assert spool.count() == 1
    spooled = [e for e in logs if e["event"] == "e911.record.spooled"]
    assert [(e["record_id"], e["store_error"]) for e in spooled] == [
        (record(1).id, "OperationalError")]

    up = open_store(f"sqlite:///{tmp_path}/e911.db")
    try:
        importer = RecordWriter(keyed(up), spool, retention_days=30)
        assert importer.import_spool() == 1
        assert spool.count() == 0
        stored = keyed(up).get(record(1).id)
        assert stored is not None and stored.record == record(1)
        assert keyed(up).verify().ok
    finally:
        up.close()


def test_unreadable_spool_file_is_quarantined(tmp_path: Path, store: Store) -> None:
    """A truncated spool file is renamed .bad and logged; the good ones still import."""
    spool = RecordSpool(tmp_path / "spool")
    spool.write(record(1))
    (tmp_path / "spool" / "rec_broken.json").write_text("{", encoding="utf-8")
    writer = RecordWriter(keyed(store), spool, retention_days=30)
    with capture_logs() as logs:
        assert writer.import_spool() == 1
    assert (tmp_path / "spool" / "rec_broken.bad").exists()
    assert [e["file"] for e in logs if e["event"] == "e911.record.spool_unreadable"] == [
        "rec_broken.bad"]


def test_prune_drops_bodies_older_than_retention(store: Store, tmp_path: Path) -> None:
    """With 30 days' retention, a body from 31 days before `now` goes, the hash stays."""
    records = keyed(store, retention_days=30)
    records.append(record(1, pidf_lo=PIDF, pidf_sha256=pidf_sha256(PIDF)))
    now = record(1).invite_at + timedelta(days=31)
    writer = RecordWriter(records, RecordSpool(tmp_path), retention_days=30,
                          clock=lambda: now)
    with capture_logs() as logs:
        assert writer.prune() == 1
    assert [(e["event"], e["count"]) for e in logs] == [("e911.record.bodies_pruned", 1)]
    stored = records.get(record(1).id)
    assert stored is not None and stored.record.pidf_lo is None
    assert records.verify().ok


def test_writer_with_another_key_spools_and_imports_once_the_key_is_right(
    store: Store, tmp_path: Path
) -> None:
    """A worker holding another key than the chain's (a host given the wrong key): the record
    is spooled with `e911.record.key_refused`, never forks the chain, and joins it once the
    worker has the chain's key."""
    keyed(store).append(record(1))
    spool = RecordSpool(tmp_path / "spool")
    wrong = RecordWriter(keyed(store, key=OTHER_KEY), spool, retention_days=30)
    logs = _through(wrong, record(2))
    refused = [e for e in logs if e["event"] == "e911.record.key_refused"]
    assert [(e["record_id"], e["reason"].split(":")[0]) for e in refused] == [
        (record(2).id, f"the record chain is keyed with key id {KEY.key_id}, this process has "
                       f"key id {OTHER_KEY.key_id} (E911_RECORDS_KEY)")]
    assert [(e["record_id"], e["store_error"]) for e in logs
            if e["event"] == "e911.record.spooled"] == [(record(2).id, "RecordKeyMismatch")]
    assert (spool.count(), keyed(store).count()) == (1, 1)
    right = RecordWriter(keyed(store), spool, retention_days=30)
    assert right.import_spool() == 1
    verdict = keyed(store).verify()
    assert (verdict.ok, verdict.last_seq, spool.count()) == (True, 2, 0)


def test_writer_logs_the_current_head_even_without_calls(store: Store, tmp_path: Path) -> None:
    """`log_head` (the writer's start and hourly step) writes the store's head, signed, to the
    head log: records appended by another worker get a logged head with no call here; without
    a key it writes nothing and raises nothing."""
    appended = keyed(store).append_many([record(1), record(2)])[-1]
    head_log = tmp_path / "heads.jsonl"
    writer = RecordWriter(keyed(store, head_log=head_log), RecordSpool(tmp_path / "spool"),
                          retention_days=30)
    assert writer.log_head() == 1
    chain_id = keyed(store).chain_head().chain_id
    found = HeadLog(head_log).read(KEY, chain_id)
    assert ([(h.seq, h.hash) for h in found.heads], found.forged) == ([(2, appended.hash)], ())
    keyless = RecordWriter(RecordStore(store, head_log=HeadLog(head_log)),
                           RecordSpool(tmp_path / "spool"), retention_days=30)
    keyless.log_head()
    assert len(head_log.read_text().splitlines()) == 1
