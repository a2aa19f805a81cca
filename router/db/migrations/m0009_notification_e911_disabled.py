"""0009: `notifications.e911_disabled`: the account's E911 was off when the 911 was placed.

Such a 911 goes to the sorting center without an address (router/call/plan.py), and the
emergency contacts' e-mail must say so instead of "no address was registered" (issue 18).
The notice is evidence of what happened at the call, so the flag is stored with it rather
than read from the account when the e-mail is sent. Rows written before this step get
false: nothing recorded says otherwise. Adding a column with a constant default rewrites no
row on either engine.

Frozen: this is what version 9 *was*.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection) -> None:
    conn.execute(sa.text(
        "ALTER TABLE notifications ADD COLUMN e911_disabled BOOLEAN NOT NULL DEFAULT FALSE"))
