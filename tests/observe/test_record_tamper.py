"""Issue 13, finding 11: tampering with call records through the database, on both engines,
caught by `e911-router records verify` as an operator runs it (a subprocess).

Each attack was reproduced first against the unkeyed chain (verify said "chain intact").
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from router.records.chain import keyed_hash, legacy_hash
from router.records.heads import HEAD_EVENT
from router.records.model import ChainedRecord, pidf_sha256
from router.store.store import open_store
from tests.observe.keyed import KEY, KEY_TEXT, PRUNE_NOW, assert_prune_refused, keyed, triggers_off
from tests.observe.samples import PIDF, record

REPO = Path(__file__).resolve().parents[2]


def records_verify(url: str, workdir: Path, *args: str, key: str = KEY_TEXT
                   ) -> subprocess.CompletedProcess[str]:
    """`e911-router records verify` run from `workdir` (whose var/records/heads.jsonl is the
    head log), with the key in E911_RECORDS_KEY."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env.update({"E911_DATABASE_URL": url, "E911_LOG_FORMAT": "json", "E911_RECORDS_KEY": key,
                "PYTHONPATH": str(REPO)})
    return subprocess.run([sys.executable, "-m", "router", "records", "verify", *args],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def five_records(store_url: str, tmp_path: Path) -> str:
    """Five minutes-old 911 records with a PIDF-LO each, appended as a worker does (keyed,
    heads written to tmp_path/var/records/heads.jsonl)."""
    store = open_store(store_url)
    recent = datetime.now(UTC) - timedelta(minutes=5)
    try:
        records = keyed(store, head_log=tmp_path / "var" / "records" / "heads.jsonl")
        for n in range(1, 6):
            records.append(record(n, invite_at=recent, answered_at=None, ended_at=recent,
                                  pidf_lo=PIDF, pidf_sha256=pidf_sha256(PIDF)))
    finally:
        store.close()
    return store_url


def _tamper(url: str, *statements: tuple[str, dict[str, object]]) -> None:
    """Run `statements` as someone with DDL rights: the append-only trigger off first."""
    store = open_store(url, migrate=False)
    try:
        with store.engine.begin() as conn:
            triggers_off(store, conn)
            for sql, params in statements:
                conn.execute(sa.text(sql), params)
    finally:
        store.close()


def _chain(url: str) -> tuple[list[ChainedRecord], str]:
    store = open_store(url, migrate=False)
    try:
        records = keyed(store)
        return list(records.iter_chain()), records.chain_head().chain_id
    finally:
        store.close()


def _rechain(url: str, forge: str, *, start: int = 2) -> None:
    """Rewrite record `start`'s callback number and recompute every later link and the
    store's head: with the old keyless SHA-256 (`forge` "sha256"), or with the key itself
    ("key": a key holder rewriting a tail)."""
    items, chain_id = _chain(url)
    prev = items[start - 2].hash
    statements = []
    for item in items[start - 1:]:
        rec = (dataclasses.replace(item.record, callback_number="+15555550000")
               if item.seq == start else item.record)
        hash_ = (legacy_hash(prev, item.seq, item.recorded_at, rec) if forge == "sha256" else
                 keyed_hash(KEY, chain_id, prev, item.seq, item.recorded_at, rec,
                            item.retain_until))
        statements.append(("UPDATE call_records SET callback_number = :c, prev_hash = :p, "
                           "hash = :h WHERE seq = :s",
                           {"c": rec.callback_number, "p": prev, "h": hash_, "s": item.seq}))
        prev = hash_
    statements.append(("UPDATE call_record_head SET hash = :h", {"h": prev}))
    _tamper(url, *statements)


def test_untouched_records_verify_with_the_key_and_the_logged_heads(
    five_records: str, tmp_path: Path
) -> None:
    """Exit 0: five keyed records, five logged heads matched."""
    result = records_verify(five_records, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "chain intact: 5 records, last seq 5",
        result.stdout.splitlines()[1],
        f"keyed records: 5 (key id {KEY.key_id}); legacy records (before migration 0008, "
        "SHA-256 only): 0",
        "logged heads matched: 5 (var/records/heads.jsonl)"]


def test_early_prune_of_a_minutes_old_body_is_refused_and_caught(
    five_records: str, tmp_path: Path
) -> None:
    """`pidf_lo = NULL, pidf_pruned_at = now` on a minutes-old record: the trigger refuses it;
    done with the trigger off, verify names the record (exit 1)."""
    store = open_store(five_records, migrate=False)
    try:
        assert_prune_refused(store, 2)
    finally:
        store.close()
    assert records_verify(five_records, tmp_path).returncode == 0
    now = datetime.now(UTC)
    _tamper(five_records, (PRUNE_NOW, {"t": now, "seq": 2}))
    result = records_verify(five_records, tmp_path)
    assert result.returncode == 1, result.stdout
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"chain BROKEN at record 2 ({record(2).id}): its PIDF-LO body was "
                            f"pruned at {now.strftime('%Y-%m-%dT%H:%M')}")
    assert ", before its retention date " in first


def test_forged_future_prune_date_is_caught(five_records: str, tmp_path: Path) -> None:
    """The same prune with a prune date after the retention date (years ahead) is caught too:
    that date is in the future."""
    _tamper(five_records, ("UPDATE call_records SET pidf_lo = NULL, pidf_pruned_at = :t "
                           "WHERE seq = 3", {"t": datetime.now(UTC) + timedelta(days=3000)}))
    result = records_verify(five_records, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].endswith("which is in the future: the prune date was "
                                                  "forged")


def test_record_rewritten_and_rechained_with_sha256_is_caught(
    five_records: str, tmp_path: Path
) -> None:
    """Record 2 rewritten and every later hash (and the head row) recomputed with the keyless
    SHA-256 chain: verify names record 2, even with no head log to compare with."""
    (tmp_path / "var" / "records" / "heads.jsonl").unlink()
    _rechain(five_records, "sha256")
    result = records_verify(five_records, tmp_path)
    assert result.returncode == 1, result.stdout
    assert result.stdout.splitlines()[0] == (
        f"chain BROKEN at record 2 ({record(2).id}): its content does not match its hash "
        "(a column was changed)")


def test_tail_rewritten_with_the_key_is_caught_by_the_logged_heads(
    five_records: str, tmp_path: Path
) -> None:
    """Someone holding the key rewrites record 4 and re-MACs the tail: the chain is
    consistent, but record 4's hash is not the one logged when it was appended."""
    _rechain(five_records, "key", start=4)
    result = records_verify(five_records, tmp_path)
    assert result.returncode == 1, result.stdout
    assert result.stdout.splitlines()[0].startswith(
        f"chain BROKEN at record 4 ({record(4).id}): its hash is not the one the head log "
        "recorded for it at ")


def test_records_cut_from_the_end_with_the_head_row_are_caught_by_the_logged_heads(
    five_records: str, tmp_path: Path
) -> None:
    """Records 4 and 5 deleted and the head row moved back to record 3: the store agrees with
    itself, the head log (here fed through --heads as journal lines) does not."""
    items, _ = _chain(five_records)
    head_log = tmp_path / "var" / "records" / "heads.jsonl"
    journal = tmp_path / "journal.jsonl"
    journal.write_text("".join(
        json.dumps({"event": HEAD_EVENT, "level": "info", **json.loads(line)}) + "\n"
        for line in head_log.read_text().splitlines()) + "not json\n")
    head_log.unlink()
    _tamper(five_records, ("DELETE FROM call_records WHERE seq > 3", {}),
            ("UPDATE call_record_head SET seq = 3, hash = :h", {"h": items[2].hash}))
    assert records_verify(five_records, tmp_path).returncode == 0  # the store alone agrees
    result = records_verify(five_records, tmp_path, "--heads", str(journal))
    assert result.returncode == 1, result.stdout
    assert result.stdout.splitlines()[0].startswith(
        f"chain BROKEN at record 3 ({record(3).id}): the head log recorded record 5 at ")


def test_head_line_written_without_the_key_is_reported(five_records: str,
                                                       tmp_path: Path) -> None:
    """A head line of this chain whose MAC the key does not verify: exit 1, line named."""
    head_log = tmp_path / "var" / "records" / "heads.jsonl"
    line = json.loads(head_log.read_text().splitlines()[-1])
    with head_log.open("a") as out:
        out.write(json.dumps(line | {"seq": 9, "mac": "0" * 64}) + "\n")
    result = records_verify(five_records, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        "head log BROKEN: var/records/heads.jsonl line 6: the head of record 9 is not signed "
        "with this key")


def test_verify_without_the_key_or_with_another_one_exits_2(five_records: str,
                                                            tmp_path: Path) -> None:
    """No key (no E911_RECORDS_KEY, no key file): exit 2 saying so; another key: exit 2
    naming both key ids; neither prints a key."""
    missing = records_verify(five_records, tmp_path, key="")
    assert missing.returncode == 2
    assert missing.stderr.strip().startswith("error: E911_RECORDS_KEY_FILE=var/records.key: no "
                                             "such file")
    other = "x" * 40
    wrong = records_verify(five_records, tmp_path, key=other)
    assert wrong.returncode == 2
    assert f"keyed with key id {KEY.key_id}" in wrong.stderr
    assert KEY_TEXT not in wrong.stderr + wrong.stdout and other not in wrong.stderr


def test_verify_reads_the_key_file_and_refuses_one_others_can_read(
    five_records: str, tmp_path: Path
) -> None:
    """E911_RECORDS_KEY empty: the key comes from var/records.key, which must be 0600."""
    key_file = tmp_path / "var" / "records.key"
    key_file.write_text(KEY_TEXT + "\n")
    key_file.chmod(0o644)
    loose = records_verify(five_records, tmp_path, key="")
    assert loose.returncode == 2
    assert "readable by group or others (mode 0644); run `chmod 600" in loose.stderr
    key_file.chmod(0o600)
    assert records_verify(five_records, tmp_path, key="").returncode == 0

