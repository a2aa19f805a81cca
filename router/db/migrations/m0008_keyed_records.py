"""0008: keyed call-record chain, retention dates, and pruning only after them (issue 13).

- `call_records.chain_version`: 1 for every record already stored (plain SHA-256 links, as
  0006 made them), 2 for records appended from now on (HMAC-SHA256 with the records key,
  `router/records/chain.py`). Existing links are not rewritten: the migration does not hold
  the key, and a rewritten chain would no longer be the evidence it was. The first keyed
  record's MAC covers the last legacy hash, so the legacy part is fixed from then on.
- `call_records.retain_until`: when the PIDF-LO body may be pruned. A migration does not read
  settings, so records already stored get their INVITE time plus the default retention
  (2,555 days); a record already pruned gets its prune date (the pruning it had is kept as it
  was). New records get the retention in force when they are appended, inside their MAC.
- `call_record_head.key_id` (the id of the key that extends the chain; "" until the first
  keyed append) and `call_record_head.chain_id` (random, this chain's name in the head log).
- The append-only triggers are replaced: every column but the body and its prune date is
  frozen (0006's list predated `path`, which an UPDATE could change), and the body may only go
  from present to NULL, with a prune date at or after `retain_until`, once `retain_until` has
  passed by the database's clock. A minutes-old record's body can no longer be pruned.

Frozen: this is what version 8 *was*.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from router.db.schema import UtcDateTime

LEGACY_RETENTION = timedelta(days=2555)

_v8 = sa.MetaData()
_records = sa.Table(
    "call_records", _v8,
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("invite_at", UtcDateTime),
    sa.Column("pidf_pruned_at", UtcDateTime),
    sa.Column("retain_until", UtcDateTime),
)

_FROZEN = ("seq", "id", "recorded_at", "call_class", "outcome", "result", "final_status",
           "action", "invite_at", "answered_at", "ended_at", "dialed", "account_id",
           "sip_user", "sip_call_id", "worker", "call_ref", "trunks_tried", "trunk_used",
           "location_id", "location_source", "callback_number", "pidf_sha256", "prev_hash",
           "hash", "path", "chain_version", "retain_until")
"""Every column of version 8 except `pidf_lo` and `pidf_pruned_at`."""

_MESSAGE = ("call_records are append-only (only the PIDF-LO body may be pruned, once its "
            "retain_until has passed)")


def _sqlite_statements() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _FROZEN)
    now = "strftime('%Y-%m-%d %H:%M:%f', 'now')"  # the stored text form: 'YYYY-MM-DD HH:MM:SS.f'
    prune = ("OLD.pidf_lo IS NOT NULL AND NEW.pidf_lo IS NULL AND OLD.pidf_pruned_at IS NULL "
             "AND NEW.pidf_pruned_at IS NOT NULL AND OLD.retain_until IS NOT NULL "
             f"AND NEW.pidf_pruned_at >= OLD.retain_until AND OLD.retain_until <= {now}")
    body_changed = "NEW.pidf_lo IS NOT OLD.pidf_lo OR NEW.pidf_pruned_at IS NOT OLD.pidf_pruned_at"
    return [
        "DROP TRIGGER call_records_no_update",
        f"CREATE TRIGGER call_records_no_update BEFORE UPDATE ON call_records "
        f"WHEN {changed} OR (({body_changed}) AND NOT COALESCE(({prune}), 0)) "
        f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END",
    ]


def _postgresql_statements() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _FROZEN)
    prune = ("OLD.pidf_lo IS NOT NULL AND NEW.pidf_lo IS NULL AND OLD.pidf_pruned_at IS NULL "
             "AND NEW.pidf_pruned_at IS NOT NULL AND OLD.retain_until IS NOT NULL "
             "AND NEW.pidf_pruned_at >= OLD.retain_until AND OLD.retain_until <= now()")
    body_changed = ("NEW.pidf_lo IS DISTINCT FROM OLD.pidf_lo OR NEW.pidf_pruned_at IS "
                    "DISTINCT FROM OLD.pidf_pruned_at")
    # The trigger of 0006 (BEFORE UPDATE OR DELETE) stays; only its function changes.
    return [
        "CREATE OR REPLACE FUNCTION call_records_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{_MESSAGE}'; END IF; "
        f"IF {changed} OR (({body_changed}) AND NOT COALESCE(({prune}), false)) "
        f"THEN RAISE EXCEPTION '{_MESSAGE}'; END IF; RETURN NEW; END $$",
    ]


def upgrade(conn: Connection) -> None:
    postgresql = conn.dialect.name == "postgresql"
    instant = "TIMESTAMP WITH TIME ZONE" if postgresql else "DATETIME"
    for statement in (
        "ALTER TABLE call_records ADD COLUMN chain_version INTEGER NOT NULL DEFAULT 1",
        f"ALTER TABLE call_records ADD COLUMN retain_until {instant}",
        "ALTER TABLE call_record_head ADD COLUMN key_id VARCHAR(16) NOT NULL DEFAULT ''",
        "ALTER TABLE call_record_head ADD COLUMN chain_id VARCHAR(32) NOT NULL DEFAULT ''",
    ):
        conn.execute(sa.text(statement))
    conn.execute(sa.text("UPDATE call_record_head SET chain_id = :chain"),
                 {"chain": secrets.token_hex(16)})
    # 0006's trigger lets `retain_until` (unknown to it) change: backfill before replacing it.
    rows = conn.execute(sa.select(_records.c.seq, _records.c.invite_at,
                                  _records.c.pidf_pruned_at)).all()
    if rows:
        conn.execute(
            _records.update().where(_records.c.seq == sa.bindparam("s"))
            .values(retain_until=sa.bindparam("r", type_=UtcDateTime)),
            [{"s": row.seq, "r": row.pidf_pruned_at or row.invite_at + LEGACY_RETENTION}
             for row in rows])
    for statement in _postgresql_statements() if postgresql else _sqlite_statements():
        conn.exec_driver_sql(statement)
