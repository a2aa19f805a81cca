"""The keyed chain over call records: canonical form, links, and what `verify` catches. Pure."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from router.records.chain import (
    CHAIN_VERSION,
    GENESIS,
    LEGACY_VERSION,
    LoggedHead,
    Verdict,
    canonical_json,
    keyed_hash,
    legacy_hash,
    link,
    verify,
)
from router.records.model import ChainedRecord, pidf_sha256
from tests.observe.keyed import KEY, OTHER_KEY
from tests.observe.samples import PIDF, record

RECORDED = datetime(2026, 3, 1, 12, 6, tzinfo=UTC)
RETAIN = datetime(2033, 3, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, tzinfo=UTC)
CHAIN = "c0ffee" * 5 + "00"


def chain(n: int) -> list[ChainedRecord]:
    items: list[ChainedRecord] = []
    for i in range(1, n + 1):
        items.append(link(items[-1] if items else None, RECORDED, record(i), key=KEY,
                          chain_id=CHAIN, retain_until=RETAIN))
    return items


def check(items: list[ChainedRecord], **kwargs: object) -> Verdict:
    args: dict[str, object] = {"key": KEY, "chain_id": CHAIN, "now": NOW} | kwargs
    return verify(items, **args)  # type: ignore[arg-type]


def legacy_chain(n: int) -> list[ChainedRecord]:
    """Records as version 1 (before migration 0008) chained them: plain SHA-256."""
    items: list[ChainedRecord] = []
    prev = GENESIS
    for i in range(1, n + 1):
        hash_ = legacy_hash(prev, i, RECORDED, record(i))
        items.append(ChainedRecord(i, RECORDED, record(i), prev, hash_, retain_until=RETAIN,
                                   version=LEGACY_VERSION))
        prev = hash_
    return items


def test_canonical_json_is_sorted_compact_ascii_with_utc_microseconds() -> None:
    """One byte string per record: sorted keys, no spaces, instants as ...ffffffZ; version 2
    carries the chain id and the retention date."""
    text = canonical_json(1, RECORDED, record(1, dialed="9911"), chain_id=CHAIN,
                          retain_until=RETAIN)
    assert text.startswith(b'{"account_id":"acct_default","action":"bridge",')
    assert b'"invite_at":"2026-03-01T12:00:01.123456Z"' in text
    assert b'"recorded_at":"2026-03-01T12:06:00.000000Z"' in text
    assert b'"retain_until":"2033-03-01T12:00:00.000000Z"' in text
    assert f'"chain":"{CHAIN}"'.encode() in text
    assert b" " not in text
    assert b'"v":2' in text


def test_legacy_link_is_unchanged_so_records_before_0008_still_verify() -> None:
    """A version 1 link is SHA-256 of genesis + JSON, pinned: records stored before the keyed
    chain keep verifying."""
    assert legacy_hash(GENESIS, 1, RECORDED, record(1)) == (
        "cf674229d6671a856230b67f08cdcd4009363bdd178978b58e0d7c745e68a061")


def test_first_record_links_to_genesis_with_an_hmac_of_the_key() -> None:
    """Record 1's previous hash is 64 zeros; its hash is the HMAC with the key, which another
    key or plain SHA-256 does not reproduce."""
    first = link(None, RECORDED, record(1), key=KEY, chain_id=CHAIN, retain_until=RETAIN)
    assert (first.seq, first.prev_hash, first.version) == (1, GENESIS, CHAIN_VERSION)
    assert first.hash == keyed_hash(KEY, CHAIN, GENESIS, 1, RECORDED, record(1), RETAIN)
    assert first.hash != keyed_hash(OTHER_KEY, CHAIN, GENESIS, 1, RECORDED, record(1), RETAIN)
    assert first.hash != legacy_hash(GENESIS, 1, RECORDED, record(1))


def test_intact_chain_verifies_to_its_head() -> None:
    """Five linked records verify, ending at the head the store would keep."""
    items = chain(5)
    verdict = check(items, head=(5, items[-1].hash))
    assert (verdict.ok, verdict.checked, verdict.last_seq, verdict.keyed) == (True, 5, 5, 5)


def test_changed_column_breaks_the_chain_at_that_record() -> None:
    """A changed trunk in record 3 is named as the first broken record."""
    items = chain(5)
    forged = dataclasses.replace(items[2].record, trunk_used="sip:elsewhere")
    items[2] = dataclasses.replace(items[2], record=forged)
    verdict = check(items)
    assert verdict.broken is not None
    assert (verdict.broken.seq, verdict.broken.id) == (3, record(3).id)
    assert "does not match its hash" in verdict.broken.reason


def test_deleted_record_in_the_middle_is_a_missing_sequence() -> None:
    """Removing record 2 breaks the chain at record 3."""
    items = chain(4)
    del items[1]
    verdict = check(items)
    assert verdict.broken is not None
    assert verdict.broken.seq == 3
    assert verdict.broken.reason == "sequence 3 where 2 was expected (a record is missing)"


def test_records_removed_from_the_end_are_caught_by_the_head() -> None:
    """A chain shorter than the head says records were cut from its end."""
    items = chain(4)
    verdict = check(items[:3], head=(4, items[3].hash))
    assert verdict.broken is not None
    assert verdict.broken.seq == 3
    assert "head is record 4" in verdict.broken.reason


def test_record_rewritten_and_rechained_without_the_key_is_caught() -> None:
    """Issue 13 finding 11: record 2 forged and every later link recomputed with SHA-256 (the
    old, keyless chain) or with another key: record 2 is named."""
    for relink in ("sha256", "other key"):
        items = chain(4)
        prev = items[0].hash
        for index in range(1, 4):
            item = items[index]
            rec = (dataclasses.replace(item.record, callback_number="+15555550000")
                   if index == 1 else item.record)
            hash_ = (legacy_hash(prev, item.seq, RECORDED, rec) if relink == "sha256" else
                     keyed_hash(OTHER_KEY, CHAIN, prev, item.seq, RECORDED, rec, RETAIN))
            items[index] = dataclasses.replace(item, record=rec, prev_hash=prev, hash=hash_)
            prev = hash_
        verdict = check(items, head=(4, prev))
        assert verdict.broken is not None, relink
        assert (verdict.broken.seq, verdict.broken.reason) == (
            2, "its content does not match its hash (a column was changed)"), relink


def test_keyed_records_rewritten_as_legacy_ones_are_caught() -> None:
    """Relabelling forged records as version 1 (SHA-256) after keyed ones breaks the chain:
    no legacy record may follow a keyed one."""
    items = chain(3)
    prev = items[0].hash
    for index in (1, 2):
        item = items[index]
        hash_ = legacy_hash(prev, item.seq, RECORDED, item.record)
        items[index] = dataclasses.replace(item, prev_hash=prev, hash=hash_,
                                           version=LEGACY_VERSION)
        prev = hash_
    broken = check(items).broken
    assert broken is not None and broken.seq == 2
    assert broken.reason.startswith("an unkeyed (version 1) record after keyed ones")


def test_legacy_records_then_keyed_ones_verify_and_are_counted() -> None:
    """Records from before migration 0008 stay SHA-256; the first keyed record links to the
    last of them; the verdict counts both kinds."""
    items = legacy_chain(2)
    items.append(link(items[-1], RECORDED, record(3), key=KEY, chain_id=CHAIN,
                      retain_until=RETAIN))
    verdict = check(items)
    assert (verdict.ok, verdict.legacy, verdict.keyed) == (True, 2, 1)


def test_logged_heads_catch_a_tail_rewritten_with_the_key_and_a_cut_end() -> None:
    """A head logged outside the store catches what the key cannot: a tail re-MACed by someone
    holding the key, and records cut from the end together with the store's head."""
    items = chain(5)
    logged = [LoggedHead(3, items[2].hash, "2026-03-01T12:07:00.000000Z"),
              LoggedHead(5, items[4].hash, "2026-03-01T12:08:00.000000Z")]
    assert check(items, logged=logged).heads_checked == 2
    rewritten = chain(2)
    for i in (3, 4, 5):
        rewritten.append(link(rewritten[-1], RECORDED, record(i, dialed="933"), key=KEY,
                              chain_id=CHAIN, retain_until=RETAIN))
    broken = check(rewritten, logged=logged).broken
    assert broken is not None and broken.seq == 3
    assert broken.reason.startswith("its hash is not the one the head log recorded for it")
    cut = check(items[:4], head=(4, items[3].hash), logged=logged).broken
    assert cut is not None and cut.seq == 4
    assert cut.reason.startswith("the head log recorded record 5 at 2026-03-01T12:08:00")


def test_pruned_body_keeps_the_chain_only_after_its_retention_date() -> None:
    """The PIDF-LO body is outside the hash (its SHA-256 is inside): pruned at or after
    `retain_until` is fine; pruned before it, at a date in the future, altered, or missing
    without a prune date is not."""
    body_record = record(1, pidf_sha256=pidf_sha256(PIDF), pidf_lo=PIDF)
    retain = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
    item = link(None, RECORDED, body_record, key=KEY, chain_id=CHAIN, retain_until=retain)
    no_body = dataclasses.replace(body_record, pidf_lo=None)

    def pruned_at(when: datetime | None) -> ChainedRecord:
        return dataclasses.replace(item, record=no_body, pidf_pruned_at=when)

    assert check([pruned_at(retain)]).ok
    early = check([pruned_at(retain - timedelta(minutes=1))]).broken
    assert early is not None and early.reason == (
        "its PIDF-LO body was pruned at 2026-03-01T12:59:00.000000Z, before its retention date "
        "2026-03-01T13:00:00.000000Z")
    future = check([pruned_at(NOW + timedelta(hours=1))]).broken
    assert future is not None and future.reason.endswith("in the future: the prune date "
                                                         "was forged")
    altered = dataclasses.replace(item, record=dataclasses.replace(body_record,
                                                                   pidf_lo=PIDF + " "))
    broken = check([altered]).broken
    assert broken is not None and broken.reason == (
        "its PIDF-LO body does not match the PIDF-LO hash")
    broken = check([pruned_at(None)]).broken
    assert broken is not None and broken.reason == (
        "its PIDF-LO body is missing but was never pruned")
