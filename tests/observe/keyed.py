"""The records keys the call-record tests chain with, and a keyed `RecordStore`."""

from __future__ import annotations

from pathlib import Path

from router.records.heads import HeadLog
from router.records.key import RecordKey
from router.records.store import RecordStore, StoreLike

KEY_TEXT = "test-records-key-0123456789abcdef0123456789abcdef"
KEY = RecordKey(KEY_TEXT.encode(), "E911_RECORDS_KEY")
OTHER_KEY = RecordKey(b"another-records-key-fedcba9876543210fedcba98", "E911_RECORDS_KEY")


def keyed(store: StoreLike, *, retention_days: int = 2555, head_log: Path | None = None,
          key: RecordKey = KEY) -> RecordStore:
    """A `RecordStore` appending with `key` (and writing heads to `head_log` when given)."""
    return RecordStore(store, key, retention_days=retention_days,
                       head_log=HeadLog(head_log) if head_log is not None else None)
