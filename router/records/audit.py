"""The whole check an auditor runs (`e911-router records verify`, `GET /v1/call-records/verify`):
the chain against the records key, the store's head, and the heads logged outside the store
(this host's head log and any other head files given, e.g. `chain_head` lines from a journal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from router.records.chain import LoggedHead, Verdict
from router.records.heads import DEFAULT_HEAD_LOG, HeadLog
from router.records.key import RecordKeyError, records_key
from router.records.store import RecordStore, StoreLike
from router.settings import Settings


@dataclass(frozen=True, slots=True)
class Audit:
    verdict: Verdict
    key_id: str
    head_files: tuple[str, ...]
    """The head files read (the local head log only when it exists)."""
    forged_heads: tuple[str, ...]
    """Head lines of this chain the key does not sign: someone wrote them without the key."""

    @property
    def ok(self) -> bool:
        return self.verdict.ok and not self.forged_heads


def audit(store: StoreLike, settings: Settings, *, head_files: Sequence[Path] = (),
          head_log: Path = DEFAULT_HEAD_LOG) -> Audit:
    """Raises `RecordKeyError` (no key, or not the chain's key) and, for a head file named in
    `head_files` that cannot be read, `OSError`."""
    key = records_key(settings, create=False)
    records = RecordStore(store, key, retention_days=settings.record_retention_days)
    chain_id = records.chain_head().chain_id
    heads: list[LoggedHead] = []
    forged: list[str] = []
    read: list[str] = []
    for path in (head_log, *head_files):
        if path == head_log and not path.exists() and path not in head_files:
            continue
        if not path.is_file():
            raise OSError(f"{path}: no such head file")
        found = HeadLog(path).read(key, chain_id)
        heads += found.heads
        forged += found.forged
        read.append(str(path))
    verdict = records.verify(logged=heads)
    return Audit(verdict, key.key_id, tuple(read), tuple(forged))


__all__ = ["Audit", "RecordKeyError", "audit"]
