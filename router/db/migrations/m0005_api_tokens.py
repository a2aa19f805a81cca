"""0005: the HTTP API's tables: hashed per-user bearer tokens, and the webhook sender's
delivery cursor.

`api_tokens` keeps the SHA-256 of each token, never the token (router/api/auth.py). Deleting a
user deletes its tokens. `webhook_cursors` holds the last event `seq` delivered to a webhook
URL (keyed by the URL's SHA-256), so a restart resumes where delivery stopped.

Frozen: these definitions are what version 5 *was*. Change the schema with a new step.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from router.db.schema import UtcDateTime

_v5 = sa.MetaData()

users = sa.Table(  # referenced, not created: the foreign key needs the target's columns
    "users",
    _v5,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("sip_user", sa.String(128), primary_key=True),
)

api_tokens = sa.Table(
    "api_tokens",
    _v5,
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

webhook_cursors = sa.Table(
    "webhook_cursors",
    _v5,
    sa.Column("url_sha256", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)


def upgrade(conn: Connection) -> None:
    api_tokens.create(conn)
    webhook_cursors.create(conn)
