"""The chain over call records. Pure.

    hash(n) = HMAC-SHA256(key, hash(n-1) || canonical_json(record n))     hash(0) = GENESIS

(chain version 2, from migration 0008 on). The key (RFC 2104 HMAC, `router.records.key`) is
kept outside the store: whoever can write the database but does not hold the key cannot
rewrite a record and recompute the later links, which the plain SHA-256 chain of version 1
allowed (issue 13, finding 11). Records written before 0008 keep their version 1 link,
`SHA-256(hash(n-1) || canonical_json_v1(record n))`; the first keyed record's MAC covers the
last legacy hash, so the legacy records cannot change either once a keyed record follows them,
and no legacy record may follow a keyed one (that would be a keyed record rewritten as legacy).

`canonical_json` is the record's content, its `seq` and `recorded_at`, as JSON with sorted
keys, no spaces, ASCII only, and instants as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds):
one byte string for one record on every engine and Python version. Version 2 adds the chain's
id (`call_record_head.chain_id`, so a head log line or a record cannot be taken from another
store's chain) and `retain_until` (when the PIDF-LO body may be pruned). The PIDF-LO body is not
in it, its SHA-256 is: pruning the body after `retain_until` leaves the chain intact; a body
still present must match its hash, and a body pruned before `retain_until` (or at a date in the
future) is a broken record.

Changing any hashed column, deleting or inserting a record, or reordering records breaks the
chain at that record; `verify` names the first one broken. Records cut from the end, or a tail
rewritten by someone holding the key, show against the heads logged outside the store
(`router.records.heads`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from router.records.key import RecordKey
from router.records.model import CallRecord, ChainedRecord, pidf_sha256

GENESIS = "0" * 64
"""The previous hash of record 1."""

LEGACY_VERSION = 1
"""Plain SHA-256 links: records written before migration 0008."""
CHAIN_VERSION = 2
"""HMAC-SHA256 links: every record appended now. Part of every hashed document."""

MAX_CLOCK_SKEW = timedelta(minutes=10)
"""How far in the future (by the verifier's clock) a prune date may be before it counts as
forged: the writers' clocks and the verifier's are not one clock."""


def instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime in a call record")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def document(seq: int, recorded_at: datetime, record: CallRecord, *,
             version: int = CHAIN_VERSION, chain_id: str = "",
             retain_until: datetime | None = None) -> dict[str, Any]:
    """Everything the hash covers, as plain JSON values."""
    base: dict[str, Any] = {
        "v": version,
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
    }
    if version == LEGACY_VERSION:
        # `path` joined the record in migration 0007: hashed only when set, so the records
        # written before it verify as they were chained.
        return base | ({"path": record.path} if record.path else {})
    return base | {"path": record.path, "chain": chain_id,
                   "retain_until": instant(retain_until)}


def canonical_json(seq: int, recorded_at: datetime, record: CallRecord, *,
                   version: int = CHAIN_VERSION, chain_id: str = "",
                   retain_until: datetime | None = None) -> bytes:
    return json.dumps(document(seq, recorded_at, record, version=version, chain_id=chain_id,
                               retain_until=retain_until),
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def legacy_hash(prev_hash: str, seq: int, recorded_at: datetime, record: CallRecord) -> str:
    """The version 1 link (no key): only to verify records written before migration 0008."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical_json(seq, recorded_at, record, version=LEGACY_VERSION))
    return digest.hexdigest()


def keyed_hash(key: RecordKey, chain_id: str, prev_hash: str, seq: int, recorded_at: datetime,
               record: CallRecord, retain_until: datetime | None) -> str:
    """The version 2 link: HMAC-SHA256 (RFC 2104) of the previous hash and the record."""
    return key.mac(prev_hash.encode("ascii") + canonical_json(
        seq, recorded_at, record, chain_id=chain_id, retain_until=retain_until))


def link(prev: ChainedRecord | None, recorded_at: datetime, record: CallRecord, *,
         key: RecordKey, chain_id: str, retain_until: datetime) -> ChainedRecord:
    """The next (keyed) link after `prev` (None: the first record)."""
    seq = prev.seq + 1 if prev is not None else 1
    prev_hash = prev.hash if prev is not None else GENESIS
    return ChainedRecord(seq, recorded_at, record, prev_hash,
                         keyed_hash(key, chain_id, prev_hash, seq, recorded_at, record,
                                    retain_until),
                         retain_until=retain_until, version=CHAIN_VERSION)


@dataclass(frozen=True, slots=True)
class LoggedHead:
    """A chain head written outside the store (the head log, the structured log)."""

    seq: int
    hash: str
    at: str
    """When it was written (as logged)."""


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
    keyed: int = 0
    """Records checked against the key (version 2)."""
    legacy: int = 0
    """Records written before migration 0008 (version 1, plain SHA-256)."""
    heads_checked: int = 0
    """Logged heads the chain was compared with."""

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(records: Iterable[ChainedRecord], *, key: RecordKey, chain_id: str, now: datetime,
           head: tuple[int, str] | None = None, logged: Sequence[LoggedHead] = ()) -> Verdict:
    """Walk the chain in `seq` order; stop at the first broken record.

    `head` is the (seq, hash) the store keeps of its last append: a chain that ends earlier
    lost records from its end. `logged` are heads written outside the store: the chain must
    hold each one's hash at its seq, and reach the highest one; that catches records cut from
    the end together with the store's head, and a tail rewritten even with the key.
    """
    wanted: dict[int, list[LoggedHead]] = {}
    for entry in logged:
        wanted.setdefault(entry.seq, []).append(entry)
    expected_seq, prev_hash, checked, keyed, legacy, matched = 1, GENESIS, 0, 0, 0, 0
    last_id = ""

    def verdict(broken: Broken | None = None, seq: int = 0, hash_: str = "") -> Verdict:
        return Verdict(checked, seq, hash_, broken, keyed, legacy, matched)

    for item in records:
        checked += 1
        last_id = item.record.id
        reason = _check(item, expected_seq, prev_hash, key, chain_id, keyed > 0, now)
        if not reason:
            for entry in wanted.get(item.seq, ()):
                if entry.hash != item.hash:
                    reason = (f"its hash is not the one the head log recorded for it at "
                              f"{entry.at}: the chain was rewritten up to here")
                    break
                matched += 1
        if reason:
            return verdict(Broken(item.seq, item.record.id, reason), item.seq, item.hash)
        keyed += item.version == CHAIN_VERSION
        legacy += item.version == LEGACY_VERSION
        expected_seq, prev_hash = item.seq + 1, item.hash
    last_seq = expected_seq - 1
    beyond = [e for e in logged if e.seq > last_seq]
    if beyond:
        highest = max(beyond, key=lambda e: e.seq)
        why = (f"the head log recorded record {highest.seq} at {highest.at}, but the chain ends "
               f"at record {last_seq}: records were removed from the end")
        return verdict(Broken(last_seq, last_id, why), last_seq, prev_hash)
    if head is not None and head != (last_seq, prev_hash):
        why = (f"the store's head is record {head[0]} ({head[1][:12]}...) but the chain ends at "
               f"record {last_seq}: records were removed from the end, or the head was altered")
        return verdict(Broken(last_seq, last_id, why), last_seq, prev_hash)
    return verdict(None, last_seq, prev_hash)


def item_hash(item: ChainedRecord, key: RecordKey, chain_id: str) -> str:
    """What `item.hash` must be, by its version."""
    if item.version == LEGACY_VERSION:
        return legacy_hash(item.prev_hash, item.seq, item.recorded_at, item.record)
    return keyed_hash(key, chain_id, item.prev_hash, item.seq, item.recorded_at, item.record,
                      item.retain_until)


def _check(item: ChainedRecord, expected_seq: int, prev_hash: str, key: RecordKey,
           chain_id: str, after_keyed: bool, now: datetime) -> str:
    if item.seq != expected_seq:
        return f"sequence {item.seq} where {expected_seq} was expected (a record is missing)"
    if item.prev_hash != prev_hash:
        return "its previous hash is not the hash of the record before it"
    if item.version not in (LEGACY_VERSION, CHAIN_VERSION):
        return f"unknown chain version {item.version}"
    if item.version == LEGACY_VERSION and after_keyed:
        return ("an unkeyed (version 1) record after keyed ones: keyed records were rewritten "
                "without the records key")
    if item_hash(item, key, chain_id) != item.hash:
        return "its content does not match its hash (a column was changed)"
    return _check_body(item, now)


def _check_body(item: ChainedRecord, now: datetime) -> str:
    body = item.record.pidf_lo
    if body is not None:
        if pidf_sha256(body) != item.record.pidf_sha256:
            return "its PIDF-LO body does not match the PIDF-LO hash"
        return ""
    if not item.record.pidf_sha256:
        return ""
    pruned = item.pidf_pruned_at
    if pruned is None:
        return "its PIDF-LO body is missing but was never pruned"
    if item.retain_until is None:
        return "its PIDF-LO body was pruned but it has no retention date"
    if pruned < item.retain_until:
        return (f"its PIDF-LO body was pruned at {instant(pruned)}, before its retention date "
                f"{instant(item.retain_until)}")
    if pruned > now.astimezone(UTC) + MAX_CLOCK_SKEW:
        return (f"its PIDF-LO body was pruned at {instant(pruned)}, which is in the future: the "
                f"prune date was forged")
    return ""
