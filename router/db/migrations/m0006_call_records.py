"""0006: call records (router/records), append-only and hash-chained, and the chain's head.

`call_record_head` is one row holding the last record's seq and hash: appenders lock it (row
lock on PostgreSQL, the write lock on SQLite), so writers on several workers and hosts extend
one chain in turn; and `records verify` compares it with the chain's end, which shows records
removed from the end.

Triggers refuse DELETE and any UPDATE except the retention pruning of the PIDF-LO body
(`pidf_lo` to NULL, `pidf_pruned_at` set). They stop mistakes, not an attacker with DDL
rights: the hash chain is what makes tampering detectable.

Frozen: these definitions are what version 6 *was*.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from router.db.schema import UtcDateTime, json_type

_v6 = sa.MetaData()

call_records = sa.Table(
    "call_records",
    _v6,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("call_class", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("result", sa.String(32), nullable=False),
    sa.Column("final_status", sa.Integer, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("invite_at", UtcDateTime, nullable=False),
    sa.Column("answered_at", UtcDateTime, nullable=True),
    sa.Column("ended_at", UtcDateTime, nullable=False),
    sa.Column("dialed", sa.Text, nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("sip_user", sa.String(128), nullable=False),
    sa.Column("sip_call_id", sa.Text, nullable=False),
    sa.Column("worker", sa.String(64), nullable=False),
    sa.Column("call_ref", sa.String(64), nullable=False),
    sa.Column("trunks_tried", json_type(), nullable=False),
    sa.Column("trunk_used", sa.Text, nullable=False),
    sa.Column("location_id", sa.String(64), nullable=False),
    sa.Column("location_source", sa.String(16), nullable=False),
    sa.Column("callback_number", sa.Text, nullable=False),
    sa.Column("pidf_sha256", sa.String(64), nullable=False),
    sa.Column("pidf_lo", sa.Text, nullable=True),
    sa.Column("pidf_pruned_at", UtcDateTime, nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Index("call_records_by_invite", "invite_at"),
    sa.Index("call_records_by_call_id", "sip_call_id"),
)

call_record_head = sa.Table(
    "call_record_head",
    _v6,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.CheckConstraint("id = 1", name="call_record_head_single_row"),
)

_FROZEN = [c.name for c in call_records.columns if c.name not in ("pidf_lo", "pidf_pruned_at")]
"""Columns no UPDATE may change."""

_MESSAGE = "call_records are append-only (only the PIDF-LO body may be pruned)"


def _sqlite_triggers() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _FROZEN)
    return [
        f"CREATE TRIGGER call_records_no_delete BEFORE DELETE ON call_records "
        f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END",
        f"CREATE TRIGGER call_records_no_update BEFORE UPDATE ON call_records "
        f"WHEN {changed} OR (NEW.pidf_lo IS NOT NULL AND NEW.pidf_lo IS NOT OLD.pidf_lo) "
        f"OR (OLD.pidf_pruned_at IS NOT NULL AND NEW.pidf_pruned_at IS NOT OLD.pidf_pruned_at) "
        f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END",
    ]


def _postgresql_triggers() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _FROZEN)
    return [
        "CREATE FUNCTION call_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{_MESSAGE}'; END IF; "
        f"IF {changed} OR (NEW.pidf_lo IS NOT NULL AND NEW.pidf_lo IS DISTINCT FROM OLD.pidf_lo) "
        "OR (OLD.pidf_pruned_at IS NOT NULL AND NEW.pidf_pruned_at IS DISTINCT FROM "
        f"OLD.pidf_pruned_at) THEN RAISE EXCEPTION '{_MESSAGE}'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER call_records_append_only BEFORE UPDATE OR DELETE ON call_records "
        "FOR EACH ROW EXECUTE FUNCTION call_records_append_only()",
    ]


def upgrade(conn: Connection) -> None:
    _v6.create_all(conn)
    conn.execute(call_record_head.insert().values(id=1, seq=0, hash="0" * 64))
    statements = (_postgresql_triggers() if conn.dialect.name == "postgresql"
                  else _sqlite_triggers())
    for statement in statements:
        conn.exec_driver_sql(statement)
