"""0010: `registrations`: the devices a trusted PBX reported registered, one row a contact.

Issue 17: `network.changed` is raised when a device connects (registers), not at its first
call. A registration is refreshed every few minutes to an hour; the row is how the store
tells a re-registration from a device newly seen on a network (docs/registrations.md), so
the event comes once per arrival, not once per REGISTER. Rows exist only for users the store
knows (the foreign key); deleting the user deletes them. `contact_sha256` keys the contact
URI (any length, never logged) to a fixed width.

Frozen: this is what version 10 *was*.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from router.db.schema import UtcDateTime

_v10 = sa.MetaData()

users = sa.Table(  # referenced, not created: the foreign key needs the target's columns
    "users",
    _v10,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("sip_user", sa.String(128), primary_key=True),
)

registrations = sa.Table(
    "registrations",
    _v10,
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


def upgrade(conn: Connection) -> None:
    registrations.create(conn)
