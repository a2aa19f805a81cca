#!/usr/bin/env python3
"""Render the reference PBX (deploy/pbx/kamailio-pbx.cfg.in) into a directory: the Kamailio
configuration and the db_text tables it reads (the users for digest authentication, and pua's
table, which pua reads at start even in memory mode). Standard library only, so a PBX host
needs no router install:

    python3 deploy/pbx/render.py --listen 192.0.2.20:5060 --router 192.0.2.10:5060 \\
        --carrier e911.carrier.example:5060 --users /etc/kamailio-pbx/users --dir /var/lib/pbx
    kamailio -f /var/lib/pbx/kamailio-pbx.cfg -DD -E

Prints the configuration's path.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "kamailio-pbx.cfg.in"
DBTEXT = Path("/usr/share/kamailio/dbtext/kamailio")
"""Debian kamailio's db_text table definitions (the `version` rows and headers)."""
_HOST_PORT = re.compile(r"[A-Za-z0-9.\-]+:[0-9]{1,5}")
_USER = re.compile(r"[A-Za-z0-9+._\-]{1,64}")


@dataclass(frozen=True, slots=True)
class PbxSettings:
    listen: str
    """host:port this PBX listens on (UDP)."""
    router: str
    """host:port of the router's front (its E911_SIP_LISTEN)."""
    carrier: str
    """host:port of the carrier's E911 trunk: 911/933 go there when the router does not
    answer."""
    domain: str = "pbx.example.net"
    device_ip_header: str = "X-E911-Device-IP"
    """The router's E911_DEVICE_IP_HEADER."""
    failover_ms: int = 2000
    """How long an emergency call waits for the router's first answer before the carrier."""


def read_users(text: str) -> list[tuple[str, str]]:
    """`user password` lines; blank lines and # comments skipped."""
    users = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not _USER.fullmatch(parts[0]) or ":" in parts[1]:
            raise ValueError(f"users line {number}: want `user password` (no ':')")
        users.append((parts[0], parts[1]))
    return users


def render(settings: PbxSettings, db_dir: Path) -> str:
    for name in ("listen", "router", "carrier"):
        if not _HOST_PORT.fullmatch(getattr(settings, name)):
            raise ValueError(f"{name} must be host:port")
    values = {"LISTEN": settings.listen, "ROUTER": settings.router,
              "CARRIER": settings.carrier, "DOMAIN": settings.domain, "DB": str(db_dir),
              "DEVICE_IP_HEADER": settings.device_ip_header,
              "FR_MS": str(settings.failover_ms)}
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def write_db(users: list[tuple[str, str]], db_dir: Path, domain: str) -> None:
    """db_text tables: `version` and `pua` copied from Debian's, `subscriber` from `users`."""
    db_dir.mkdir(parents=True, exist_ok=True)
    for table in ("version", "pua"):
        (db_dir / table).write_text((DBTEXT / table).read_text())
    header = (DBTEXT / "subscriber").read_text().splitlines()[0]
    # calculate_ha1: the ha1 columns are not read, but db_text refuses empty (null) ones
    rows = [f"{k}:{user}:{domain}:{password}:-:-" for k, (user, password)
            in enumerate(users, 1)]
    (db_dir / "subscriber").write_text("\n".join([header, *rows]) + "\n")
    (db_dir / "subscriber").chmod(0o600)


def prepare(settings: PbxSettings, users: list[tuple[str, str]], workdir: Path) -> Path:
    """Write the configuration and its tables under `workdir`; the configuration's path."""
    workdir = workdir.resolve()  # Kamailio reads relative db_text paths from /etc/kamailio
    workdir.mkdir(parents=True, exist_ok=True)
    write_db(users, workdir / "db", settings.domain)
    cfg = workdir / "kamailio-pbx.cfg"
    cfg.write_text(render(settings, workdir / "db"))
    return cfg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="host:port of this PBX (UDP)")
    parser.add_argument("--router", required=True, help="host:port of the router's front")
    parser.add_argument("--carrier", required=True, help="host:port of the carrier E911 trunk")
    parser.add_argument("--users", required=True, type=Path, help="`user password` lines")
    parser.add_argument("--dir", required=True, type=Path, help="where to write")
    parser.add_argument("--domain", default="pbx.example.net")
    parser.add_argument("--device-ip-header", default="X-E911-Device-IP")
    args = parser.parse_args(argv)
    settings = PbxSettings(args.listen, args.router, args.carrier, args.domain,
                           args.device_ip_header)
    print(prepare(settings, read_users(args.users.read_text()), args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
