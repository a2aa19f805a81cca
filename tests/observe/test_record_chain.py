"""The hash chain over call records: canonical form, links, and what `verify` catches. Pure."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from router.records.chain import GENESIS, canonical_json, chain_hash, link, verify
from router.records.model import ChainedRecord, pidf_sha256
from tests.observe.conftest import PIDF, record

RECORDED = datetime(2026, 3, 1, 12, 6, tzinfo=UTC)


def chain(n: int) -> list[ChainedRecord]:
    items: list[ChainedRecord] = []
    for i in range(1, n + 1):
        items.append(link(items[-1] if items else None, RECORDED, record(i)))
    return items


def test_canonical_json_is_sorted_compact_ascii_with_utc_microseconds() -> None:
    """One byte string per record: sorted keys, no spaces, instants as ...ffffffZ."""
    text = canonical_json(1, RECORDED, record(1, dialed="9911"))
    assert text.startswith(b'{"account_id":"acct_default","action":"bridge",')
    assert b'"invite_at":"2026-03-01T12:00:01.123456Z"' in text
    assert b'"recorded_at":"2026-03-01T12:06:00.000000Z"' in text
    assert b" " not in text
    assert b'"v":1' in text


def test_first_record_links_to_genesis_and_hash_is_stable() -> None:
    """Record 1's previous hash is 64 zeros; its hash (SHA-256 of genesis + JSON) is pinned."""
    first = link(None, RECORDED, record(1))
    assert (first.seq, first.prev_hash) == (1, GENESIS)
    assert first.hash == chain_hash(GENESIS, 1, RECORDED, record(1))
    # Pinned: a change here means records already stored would no longer verify.
    assert first.hash == "cf674229d6671a856230b67f08cdcd4009363bdd178978b58e0d7c745e68a061"


def test_intact_chain_verifies_to_its_head() -> None:
    """Five linked records verify, ending at the head the store would keep."""
    items = chain(5)
    verdict = verify(items, head=(5, items[-1].hash))
    assert (verdict.ok, verdict.checked, verdict.last_seq) == (True, 5, 5)


def test_changed_column_breaks_the_chain_at_that_record() -> None:
    """A changed trunk in record 3 is named as the first broken record."""
    items = chain(5)
    forged = dataclasses.replace(items[2].record, trunk_used="sip:elsewhere")
    items[2] = dataclasses.replace(items[2], record=forged)
    verdict = verify(items)
    assert verdict.broken is not None
    assert (verdict.broken.seq, verdict.broken.id) == (3, record(3).id)
    assert "does not match its hash" in verdict.broken.reason


def test_deleted_record_in_the_middle_is_a_missing_sequence() -> None:
    """Removing record 2 breaks the chain at record 3."""
    items = chain(4)
    del items[1]
    verdict = verify(items)
    assert verdict.broken is not None
    assert verdict.broken.seq == 3
    assert verdict.broken.reason == "sequence 3 where 2 was expected (a record is missing)"


def test_records_removed_from_the_end_are_caught_by_the_head() -> None:
    """A chain shorter than the head says records were cut from its end."""
    items = chain(4)
    verdict = verify(items[:3], head=(4, items[3].hash))
    assert verdict.broken is not None
    assert verdict.broken.seq == 3
    assert "head is record 4" in verdict.broken.reason


def test_rehashed_record_still_breaks_the_next_link() -> None:
    """Recomputing record 2's hash after forging it leaves record 3 pointing at the old one."""
    items = chain(3)
    forged = dataclasses.replace(items[1].record, callback_number="+15555550000")
    items[1] = link(items[0], RECORDED, forged)
    verdict = verify(items)
    assert verdict.broken is not None
    assert verdict.broken.seq == 3
    assert verdict.broken.reason == "its previous hash is not the hash of the record before it"


def test_pruned_body_keeps_the_chain_and_a_changed_body_breaks_it() -> None:
    """The PIDF-LO body is outside the hash (its SHA-256 is inside): pruned is fine,
    altered is not, missing without a prune date is not."""
    body_record = record(1, pidf_sha256=pidf_sha256(PIDF), pidf_lo=PIDF)
    item = link(None, RECORDED, body_record)
    pruned = dataclasses.replace(item, record=dataclasses.replace(body_record, pidf_lo=None),
                                 pidf_pruned_at=RECORDED)
    assert verify([pruned]).ok
    altered = dataclasses.replace(item, record=dataclasses.replace(body_record,
                                                                   pidf_lo=PIDF + " "))
    broken = verify([altered]).broken
    assert broken is not None and broken.reason == (
        "its PIDF-LO body does not match the PIDF-LO hash")
    vanished = dataclasses.replace(item, record=dataclasses.replace(body_record, pidf_lo=None))
    broken = verify([vanished]).broken
    assert broken is not None and broken.reason == (
        "its PIDF-LO body is missing but was never pruned")
