"""Refusals that protect stored state across aggregates: a saved address that an admin
network uses as its location cannot be deleted (with its user or on its own)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from router.db import schema
from router.db.errors import Conflict


def refuse_if_networks_use(conn: Connection, address_ids: sa.Select[Any] | list[str]) -> None:
    n = schema.networks
    using = conn.execute(
        sa.select(n.c.id, n.c.cidr).where(n.c.address_id.in_(address_ids))
    ).all()
    if using:
        # A fixed phone's location must never vanish as a side effect (47 CFR 9.16(b)(3)).
        names = ", ".join(f"{row.id} ({row.cidr})" for row in using)
        raise Conflict(f"address is the location of admin network(s) {names}")
