"""The records keys the call-record tests chain with, a keyed `RecordStore`, and what someone
with SQL (and DDL) rights does to the records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from router.records.heads import HeadLog
from router.records.key import RecordKey
from router.records.store import RecordStore, StoreLike
from router.store.store import Store

KEY_TEXT = "test-records-key-0123456789abcdef0123456789abcdef"
KEY = RecordKey(KEY_TEXT.encode(), "E911_RECORDS_KEY")
OTHER_KEY = RecordKey(b"another-records-key-fedcba9876543210fedcba98", "E911_RECORDS_KEY")


def keyed(store: StoreLike, *, retention_days: int = 2555, head_log: Path | None = None,
          key: RecordKey = KEY) -> RecordStore:
    """A `RecordStore` appending with `key` (and writing heads to `head_log` when given)."""
    return RecordStore(store, key, retention_days=retention_days,
                       head_log=HeadLog(head_log) if head_log is not None else None)


PRUNE_NOW = "UPDATE call_records SET pidf_lo = NULL, pidf_pruned_at = :t WHERE seq = :seq"
"""Issue 13 finding 11's early prune: drop a body, claim it was pruned now."""


def assert_prune_refused(store: Store, seq: int) -> None:
    """The store's triggers refuse PRUNE_NOW on record `seq`."""
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(sa.text(PRUNE_NOW), {"t": datetime.now(UTC), "seq": seq})


def triggers_off(store: Store, conn: Connection) -> None:
    """What someone with DDL rights does first: the append-only triggers off."""
    if store.dialect == "postgresql":
        conn.exec_driver_sql("ALTER TABLE call_records DISABLE TRIGGER USER")
    else:
        conn.exec_driver_sql("DROP TRIGGER call_records_no_update")
        conn.exec_driver_sql("DROP TRIGGER call_records_no_delete")
