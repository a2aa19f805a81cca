"""0004: the change log, one row per `change_seq` step (what changed, for whom), so the
in-memory view applies a change by re-reading one user, not every binding.

`Store._bump` bumps `change_seq` and writes the row in the transaction that made the change.
The UPDATE holds the counter's row lock until commit, so steps commit in order and a reader
that sees step N has every step before it; the log has no gaps unless pruned (the view then
reloads everything).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_v4 = sa.MetaData()

change_log = sa.Table(
    "change_log",
    _v4,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("sip_user", sa.String(128), nullable=True),
    sa.CheckConstraint("scope IN ('account', 'user', 'networks')", name="change_log_scope"),
)


def upgrade(conn: Connection) -> None:
    _v4.create_all(conn)
