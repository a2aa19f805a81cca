"""0007: `call_records.path`: which path carried an emergency call.

"bridge" (the worker's B2BUA leg) or "front" (the SIP front built the INVITE from the
worker's 302, issue 10); "" for other calls and for records written before this step. The
chain hash covers `path` only when it is not empty, so records written before still verify.
Adding a column with a constant default touches no row, so the append-only triggers of 0006
are not involved.

Frozen: this is what version 7 *was*.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection) -> None:
    conn.execute(sa.text(
        "ALTER TABLE call_records ADD COLUMN path VARCHAR(16) NOT NULL DEFAULT ''"))
