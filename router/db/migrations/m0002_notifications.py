"""0002: the emergency-contact notification outbox (one row a 911/933 call, one delivery a
recipient) for Kari's Law notifications, 47 CFR 9.16(b)(2).

Frozen: these definitions are what version 2 *was*. Change the schema with a new step, never
by editing this one. See docs/notifications.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from router.db.schema import UtcDateTime, json_type

_v2 = sa.MetaData()

# No foreign key to `accounts`: a notification is evidence that outlives the account, and a
# notification spooled while the store was down must import even if the account changed.
notifications = sa.Table(
    "notifications",
    _v2,
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
    sa.Index("notifications_by_account", "account_id", "invite_at"),
)

notification_deliveries = sa.Table(
    "notification_deliveries",
    _v2,
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


def upgrade(conn: Connection) -> None:
    _v2.create_all(conn)
