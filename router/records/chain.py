"""The hash chain over call records. Pure.

    hash(n) = SHA-256( hash(n-1) || canonical_json(record n) )        hash(0) = GENESIS

`canonical_json` is the record's content, its `seq` and `recorded_at`, as JSON with sorted
keys, no spaces, ASCII only, and instants as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds):
one byte string for one record on every engine and Python version. The PIDF-LO body is not in
it, its SHA-256 is: pruning the body after the retention period leaves the chain intact, and a
body still present must match its hash.

Changing any hashed column, deleting or inserting a record, or reordering records breaks the
chain at that record; `verify` names the first one broken.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from router.records.model import CallRecord, ChainedRecord, pidf_sha256

GENESIS = "0" * 64
"""The previous hash of record 1."""

CHAIN_VERSION = 1
"""Part of every hashed document, so a future change of the canonical form is explicit."""


def instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime in a call record")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def document(seq: int, recorded_at: datetime, record: CallRecord) -> dict[str, Any]:
    """Everything the hash covers, as plain JSON values."""
    return {
        "v": CHAIN_VERSION,
        "seq": seq,
        "recorded_at": instant(recorded_at),
        "id": record.id,
        "call_class": record.call_class,
        "outcome": record.outcome,
        "result": record.result,
        "final_status": record.final_status,
        "action": record.action,
        "invite_at": instant(record.invite_at),
        "answered_at": instant(record.answered_at),
        "ended_at": instant(record.ended_at),
        "dialed": record.dialed,
        "account_id": record.account_id,
        "sip_user": record.sip_user,
        "sip_call_id": record.sip_call_id,
        "worker": record.worker,
        "call_ref": record.call_ref,
        "trunks_tried": [t.to_json() for t in record.trunks_tried],
        "trunk_used": record.trunk_used,
        "location_id": record.location_id,
        "location_source": record.location_source,
        "callback_number": record.callback_number,
        "pidf_sha256": record.pidf_sha256,
    } | ({"path": record.path} if record.path else {})
    # `path` joined the record in migration 0007: hashed only when set, so the records
    # written before it verify as they were chained.


def canonical_json(seq: int, recorded_at: datetime, record: CallRecord) -> bytes:
    return json.dumps(document(seq, recorded_at, record), sort_keys=True,
                      separators=(",", ":"), ensure_ascii=True).encode("ascii")


def chain_hash(prev_hash: str, seq: int, recorded_at: datetime, record: CallRecord) -> str:
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical_json(seq, recorded_at, record))
    return digest.hexdigest()


def link(prev: ChainedRecord | None, recorded_at: datetime, record: CallRecord
         ) -> ChainedRecord:
    """The next link after `prev` (None: the first record)."""
    seq = prev.seq + 1 if prev is not None else 1
    prev_hash = prev.hash if prev is not None else GENESIS
    return ChainedRecord(seq, recorded_at, record, prev_hash,
                         chain_hash(prev_hash, seq, recorded_at, record))


@dataclass(frozen=True, slots=True)
class Broken:
    """The first record where the chain does not hold, and why."""

    seq: int
    id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    checked: int
    """Records read."""
    last_seq: int
    last_hash: str
    broken: Broken | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(records: Iterable[ChainedRecord], *, head: tuple[int, str] | None = None) -> Verdict:
    """Walk the chain in `seq` order; stop at the first broken record.

    `head` is the (seq, hash) the store keeps of its last append: a chain that ends earlier
    lost records from its end, which the chain alone cannot show.
    """
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    last_id = ""
    for item in records:
        checked += 1
        last_id = item.record.id
        reason = _check(item, expected_seq, prev_hash)
        if reason:
            return Verdict(checked, item.seq, item.hash, Broken(item.seq, item.record.id, reason))
        expected_seq, prev_hash = item.seq + 1, item.hash
    last_seq = expected_seq - 1
    if head is not None and head != (last_seq, prev_hash):
        why = (f"the store's head is record {head[0]} ({head[1][:12]}...) but the chain ends at "
               f"record {last_seq}: records were removed from the end, or the head was altered")
        return Verdict(checked, last_seq, prev_hash, Broken(last_seq, last_id, why))
    return Verdict(checked, last_seq, prev_hash)


def _check(item: ChainedRecord, expected_seq: int, prev_hash: str) -> str:
    if item.seq != expected_seq:
        return f"sequence {item.seq} where {expected_seq} was expected (a record is missing)"
    if item.prev_hash != prev_hash:
        return "its previous hash is not the hash of the record before it"
    if chain_hash(item.prev_hash, item.seq, item.recorded_at, item.record) != item.hash:
        return "its content does not match its hash (a column was changed)"
    body = item.record.pidf_lo
    if body is not None and pidf_sha256(body) != item.record.pidf_sha256:
        return "its PIDF-LO body does not match the PIDF-LO hash"
    if body is None and item.pidf_pruned_at is None and item.record.pidf_sha256:
        return "its PIDF-LO body is missing but was never pruned"
    return ""
