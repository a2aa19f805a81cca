"""0001: the first schema (accounts, contacts, users, saved addresses, bindings, admin
networks, events, the MSAG extract) and the default account.

Frozen: these definitions are what version 1 *was*. Change the schema with a new step, never
by editing this one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from router.db.schema import UtcDateTime, json_type, serial_type

_v1 = sa.MetaData()

change_seq = sa.Table(
    "change_seq",
    _v1,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.CheckConstraint("id = 1", name="change_seq_single_row"),
)

accounts = sa.Table(
    "accounts",
    _v1,
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
    _v1,
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
    _v1,
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
    _v1,
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
    _v1,
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
    _v1,
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
    sa.UniqueConstraint("account_id", "cidr", name="networks_unique_cidr"),
    sa.CheckConstraint(
        "(address_id IS NOT NULL AND civic IS NULL AND msag_id IS NULL AND esn IS NULL)"
        " OR (address_id IS NULL AND civic IS NOT NULL AND msag_id IS NOT NULL"
        " AND esn IS NOT NULL)",
        name="networks_address_xor_civic",
    ),
)

events = sa.Table(
    "events",
    _v1,
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
    _v1,
    sa.Column("version", serial_type(), primary_key=True, autoincrement=True),
    sa.Column("imported_at", UtcDateTime, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("overlap_count", sa.Integer, nullable=False),
)

msag_rows = sa.Table(
    "msag_rows",
    _v1,
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


def upgrade(conn: Connection) -> None:
    _v1.create_all(conn)
    now = datetime.now(UTC)
    conn.execute(change_seq.insert().values(id=1, seq=0))
    conn.execute(
        accounts.insert().values(
            id="acct_default", name="Default account", language="en", enabled=False,
            created_at=now, updated_at=now,
        )
    )
