"""0003: admin networks carry their address range (family, prefix length, first and last
address as fixed-width hex), so "the most specific network containing this IP" is one indexed
query on either engine instead of a list of 33 or 129 candidate CIDRs.

The columns are added nullable (SQLite cannot add a NOT NULL column without a default) and
filled here for existing rows; the store writes them on every insert.
"""

from __future__ import annotations

from ipaddress import ip_network

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection) -> None:
    # Byte order for the hex columns on PostgreSQL whatever the database's collation.
    hex_type = 'VARCHAR(32) COLLATE "C"' if conn.dialect.name == "postgresql" else "VARCHAR(32)"
    for column, sql_type in (
        ("family", "INTEGER"),
        ("prefix_len", "INTEGER"),
        ("first_ip", hex_type),
        ("last_ip", hex_type),
    ):
        conn.execute(sa.text(f"ALTER TABLE networks ADD COLUMN {column} {sql_type}"))
    rows = conn.execute(sa.text("SELECT id, cidr FROM networks")).all()
    for network_id, cidr in rows:
        net = ip_network(cidr)
        width = 8 if net.version == 4 else 32
        conn.execute(
            sa.text(
                "UPDATE networks SET family = :family, prefix_len = :prefix_len,"
                " first_ip = :first_ip, last_ip = :last_ip WHERE id = :id"
            ),
            {
                "id": network_id,
                "family": net.version,
                "prefix_len": net.prefixlen,
                "first_ip": f"{int(net.network_address):0{width}x}",
                "last_ip": f"{int(net.broadcast_address):0{width}x}",
            },
        )
    conn.execute(
        sa.text("CREATE INDEX networks_by_range ON networks (account_id, family, first_ip)")
    )
