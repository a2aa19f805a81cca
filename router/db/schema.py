"""The store's tables as the code queries them today (SQLAlchemy Core), and the column types
shared by both engines.

This module describes the *current* schema; the database gets there through the numbered
steps in `router/db/migrations/`. A migration never imports these tables (a later change
here must not rewrite history); `tests/store/test_migrations.py` checks that migrating an empty
database gives exactly these tables and columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A UTC instant on both engines: `timestamptz` on PostgreSQL, ISO text on SQLite.

    Naive datetimes are refused when written and never returned when read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        # SQLite keeps text; one fixed offset makes text order equal time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_type() -> sa.types.TypeEngine[Any]:
    """JSON text on SQLite, `jsonb` on PostgreSQL; Python None is SQL NULL, not JSON null."""
    return sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def serial_type() -> sa.types.TypeEngine[int]:
    """An auto-incrementing key: `bigserial` on PostgreSQL, the rowid alias on SQLite."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def hex_type() -> sa.types.TypeEngine[str]:
    """Fixed-width hex addresses, compared byte-wise (collation "C") on PostgreSQL."""
    return sa.String(32).with_variant(sa.String(32, collation="C"), "postgresql")


metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

change_seq = sa.Table(
    "change_seq",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.CheckConstraint("id = 1", name="change_seq_single_row"),
)

change_log = sa.Table(
    "change_log",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("sip_user", sa.String(128), nullable=True),
    sa.CheckConstraint("scope IN ('account', 'user', 'networks')", name="change_log_scope"),
)
"""0004: what each `change_seq` step changed, so the view re-reads only that (see
`Store.load_view_changes`)."""

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("default_civic", json_type(), nullable=True),
    sa.Column("default_msag_id", sa.Text, nullable=True),
    sa.Column("default_esn", sa.Text, nullable=True),
    sa.Column("callback_display_name", sa.Text, nullable=True),
    sa.Column("callback_number", sa.Text, nullable=True),
    sa.Column("callback_language", sa.String(8), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

emergency_contacts = sa.Table(
    "emergency_contacts",
    metadata,
    sa.Column(
        "account_id", sa.String(64), sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.UniqueConstraint("account_id", "email", name="emergency_contacts_unique_email"),
    sa.CheckConstraint("position >= 0 AND position < 10", name="emergency_contacts_at_most_10"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column(
        "account_id", sa.String(64), sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("sip_user", sa.String(128), primary_key=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("callback_number", sa.Text, nullable=True),
    sa.Column("language", sa.String(8), nullable=True),
    sa.Column("callback_preference", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(
        "callback_preference IN ('own', 'account')", name="users_callback_preference"
    ),
)

addresses = sa.Table(
    "addresses",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("sip_user", sa.String(128), nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("civic", json_type(), nullable=False),
    sa.Column("msag_id", sa.Text, nullable=False),
    sa.Column("esn", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.ForeignKeyConstraint(
        ["account_id", "sip_user"], ["users.account_id", "users.sip_user"], ondelete="CASCADE",
        name="addresses_user_fk",
    ),
    sa.Index("addresses_by_user", "account_id", "sip_user", "id"),
)

bindings = sa.Table(
    "bindings",
    metadata,
    sa.Column(
        "address_id", sa.String(64), sa.ForeignKey("addresses.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("sip_user", sa.String(128), nullable=False),
    sa.Column("network", sa.String(64), nullable=False),
    sa.Column("registered_ip", sa.String(64), nullable=False),
    sa.Column("bound_at", UtcDateTime, nullable=False),
    sa.ForeignKeyConstraint(
        ["account_id", "sip_user"], ["users.account_id", "users.sip_user"], ondelete="CASCADE",
        name="bindings_user_fk",
    ),
    sa.UniqueConstraint("account_id", "sip_user", "network", name="bindings_one_per_network"),
)

networks = sa.Table(
    "networks",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "account_id", sa.String(64), sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("cidr", sa.String(64), nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column(
        "address_id", sa.String(64), sa.ForeignKey("addresses.id", ondelete="RESTRICT"),
        nullable=True,
    ),
    sa.Column("civic", json_type(), nullable=True),
    sa.Column("msag_id", sa.Text, nullable=True),
    sa.Column("esn", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # 0003: the range, for one indexed "most specific network containing IP" query.
    sa.Column("family", sa.Integer, nullable=True),
    sa.Column("prefix_len", sa.Integer, nullable=True),
    sa.Column("first_ip", hex_type(), nullable=True),
    sa.Column("last_ip", hex_type(), nullable=True),
    sa.UniqueConstraint("account_id", "cidr", name="networks_unique_cidr"),
    sa.CheckConstraint(
        "(address_id IS NOT NULL AND civic IS NULL AND msag_id IS NULL AND esn IS NULL)"
        " OR (address_id IS NULL AND civic IS NOT NULL AND msag_id IS NOT NULL"
        " AND esn IS NOT NULL)",
        name="networks_address_xor_civic",
    ),
    sa.Index("networks_by_range", "account_id", "family", "first_ip"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", serial_type(), primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column(
        "account_id", sa.String(64), sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("sip_user", sa.String(128), nullable=True),
    sa.Column("network", sa.String(64), nullable=True),
    sa.Column("data", json_type(), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("events_by_subject", "account_id", "sip_user", "type", "network", "created_at"),
    sa.Index("events_by_account", "account_id", "seq"),
)

msag_imports = sa.Table(
    "msag_imports",
    metadata,
    sa.Column("version", serial_type(), primary_key=True, autoincrement=True),
    sa.Column("imported_at", UtcDateTime, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("overlap_count", sa.Integer, nullable=False),
)

msag_rows = sa.Table(
    "msag_rows",
    metadata,
    sa.Column("msag_id", sa.Text, primary_key=True),
    sa.Column("import_version", sa.BigInteger, sa.ForeignKey("msag_imports.version"),
              nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("state", sa.String(2), nullable=False),
    sa.Column("county", sa.Text, nullable=True),
    sa.Column("msag_community", sa.Text, nullable=False),
    sa.Column("postal_community", sa.Text, nullable=True),
    sa.Column("zip", sa.Text, nullable=True),
    sa.Column("pre_dir", sa.Text, nullable=True),
    sa.Column("street_name", sa.Text, nullable=False),
    sa.Column("street_type", sa.Text, nullable=True),
    sa.Column("post_dir", sa.Text, nullable=True),
    sa.Column("low", sa.Integer, nullable=False),
    sa.Column("high", sa.Integer, nullable=False),
    sa.Column("parity", sa.String(1), nullable=False),
    sa.Column("esn", sa.Text, nullable=False),
    sa.Column("exchange", sa.Text, nullable=True),
    sa.Column("psap_id", sa.Text, nullable=True),
    sa.Column("effective_date", sa.Text, nullable=True),
    sa.Column("expire_date", sa.Text, nullable=True),
    sa.Column("source", sa.Text, nullable=True),
    sa.Column("source_ids", sa.Text, nullable=True),
    sa.Column("line", sa.Integer, nullable=True),
    sa.CheckConstraint("low <= high", name="msag_rows_low_le_high"),
    sa.CheckConstraint("parity IN ('O', 'E', 'B')", name="msag_rows_parity"),
    sa.CheckConstraint("esn <> '' AND street_name <> '' AND msag_community <> ''",
                       name="msag_rows_required_text"),
    sa.Index("msag_rows_street", "country", "state", "msag_community", "street_name",
             "street_type", "pre_dir", "post_dir", "low"),
)

# Kari's Law notification outbox (migration 0002, docs/notifications.md). No foreign key to
# `accounts`: a notification is evidence that outlives the account.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("call_ref", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("sip_user", sa.String(128), nullable=True),
    sa.Column("sip_call_id", sa.Text, nullable=True),
    sa.Column("test_call", sa.Boolean, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("caller_display_name", sa.Text, nullable=True),
    sa.Column("callback_number", sa.Text, nullable=True),
    sa.Column("address_lines", json_type(), nullable=True),
    sa.Column("dialed", sa.Text, nullable=True),
    sa.Column("invite_at", UtcDateTime, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("via_spool", sa.Boolean, nullable=False),
    # 0009: the account's E911 was off at the call (the e-mail says so, issue 18).
    sa.Column("e911_disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("notifications_by_account", "account_id", "invite_at"),
)

notification_deliveries = sa.Table(
    "notification_deliveries",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "call_ref", sa.String(64),
        sa.ForeignKey("notifications.call_ref", ondelete="CASCADE"), nullable=False,
    ),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("message_id", sa.Text, nullable=False, unique=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(128), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("data_started_at", UtcDateTime, nullable=True),
    sa.Column("possible_duplicate", sa.Boolean, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_attempt_at", UtcDateTime, nullable=True),
    sa.Column("smtp_reply", sa.Text, nullable=True),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("call_ref", "recipient", name="notification_deliveries_one_per_recipient"),
    sa.CheckConstraint(
        "state IN ('pending', 'sending', 'sent', 'retrying', 'failed')",
        name="notification_deliveries_state",
    ),
    sa.Index("notification_deliveries_due", "state", "next_attempt_at"),
)

# --- the HTTP API (migration 0005; router/api/) ---------------------------------------------

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("sip_user", sa.String(128), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.ForeignKeyConstraint(
        ["account_id", "sip_user"], ["users.account_id", "users.sip_user"], ondelete="CASCADE",
        name="api_tokens_user_fk",
    ),
    sa.UniqueConstraint("token_sha256", name="api_tokens_unique_hash"),
    sa.Index("api_tokens_by_user", "account_id", "sip_user"),
)
"""0005: per-user bearer tokens, as SHA-256 (router/api/auth.py); never the token itself."""

webhook_cursors = sa.Table(
    "webhook_cursors",
    metadata,
    sa.Column("url_sha256", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
"""0005: the last event delivered to each webhook URL (router/notify/webhook.py)."""

# --- call records (migration 0006; router/records, docs/observability.md) -------------------
# Append-only and hash-chained (keyed from 0008); triggers refuse UPDATE (except pruning the
# PIDF-LO body once `retain_until` has passed) and DELETE. No foreign key to `accounts`: a
# record is evidence that outlives the account.

call_records = sa.Table(
    "call_records",
    metadata,
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
    sa.Column("path", sa.String(16), nullable=False, server_default=""),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    # 0008: 1 = SHA-256 link (records before 0008), 2 = HMAC-SHA256 with the records key.
    sa.Column("chain_version", sa.Integer, nullable=False, server_default="1"),
    # 0008: the PIDF-LO body may be pruned from then on (triggers refuse it before).
    sa.Column("retain_until", UtcDateTime, nullable=True),
    sa.Index("call_records_by_invite", "invite_at"),
    sa.Index("call_records_by_call_id", "sip_call_id"),
)

call_record_head = sa.Table(
    "call_record_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False, server_default=""),
    sa.Column("chain_id", sa.String(32), nullable=False, server_default=""),
    sa.CheckConstraint("id = 1", name="call_record_head_single_row"),
)
"""The last record's seq and hash: the lock appenders take, and what `verify` ends on; 0008
adds the id of the key that extends the chain and the chain's own id (router/records)."""

# --- device registrations (migration 0010; router/location/registrations.py) ---------------

registrations = sa.Table(
    "registrations",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("sip_user", sa.String(128), primary_key=True),
    sa.Column("contact_sha256", sa.String(64), primary_key=True),
    sa.Column("network", sa.String(64), nullable=False),
    sa.Column("device_ip", sa.String(64), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.ForeignKeyConstraint(
        ["account_id", "sip_user"], ["users.account_id", "users.sip_user"], ondelete="CASCADE",
        name="registrations_user_fk",
    ),
)
"""0010: a trusted PBX's registered devices, one row a contact, until `expires_at`: a device
already registered on a network re-registers silently (Store.record_registration)."""
