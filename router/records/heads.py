"""The chain head written where the database cannot rewrite it.

The store's own head row (`call_record_head`) moves with every append, so whoever can write the
database can cut records from the end and move the head back, and whoever also holds the key
can rewrite a tail and re-MAC it. Each append therefore also writes the new head (chain id,
seq, hash, time, key id, and an HMAC of those with the records key) to two places outside the
database:

- the head log, a JSON-lines file opened append-only (`var/records/heads.jsonl`, mode 0600;
  one `write()` of one short line, which O_APPEND keeps whole when several workers write);
- the structured log, event `e911.records.chain_head` with the same fields (journald, a log
  shipper: off the host if you ship logs).

`e911-router records verify` reads the head log (and any file given with `--heads`, e.g. the
`chain_head` lines of the journal) and checks that the chain holds every logged hash at its seq
and reaches the highest logged seq. A line of this chain whose MAC does not verify with the key
is reported: someone wrote it without the key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from router.records.chain import LoggedHead, instant
from router.records.key import RecordKey

log = structlog.get_logger("router.records.heads")

DEFAULT_HEAD_LOG = Path("var/records/heads.jsonl")
HEAD_EVENT = "e911.records.chain_head"


def _signed(chain_id: str, seq: int, hash_: str, at: str) -> bytes:
    return f"e911-records-head|{chain_id}|{seq}|{hash_}|{at}".encode("ascii")


def head_fields(key: RecordKey, chain_id: str, seq: int, hash_: str, at: datetime
                ) -> dict[str, Any]:
    """One head as logged (file line and structured log alike)."""
    when = instant(at) or ""
    return {"chain": chain_id, "seq": seq, "hash": hash_, "at": when, "key_id": key.key_id,
            "mac": key.mac(_signed(chain_id, seq, hash_, when))}


@dataclass(frozen=True, slots=True)
class LoggedHeads:
    """The heads of one chain found in some lines, and the lines that failed their MAC."""

    heads: tuple[LoggedHead, ...]
    forged: tuple[str, ...]
    """One description per line of this chain that the key does not sign."""


def read_heads(lines: Iterable[str], key: RecordKey, chain_id: str, *, source: str
               ) -> LoggedHeads:
    """The heads of chain `chain_id` in `lines` (head log lines or structured log lines; any
    other line is skipped)."""
    heads: list[LoggedHead] = []
    forged: list[str] = []
    for number, line in enumerate(lines, start=1):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if not isinstance(data, dict) or data.get("chain") != chain_id:
            continue
        seq, hash_, at, mac = (data.get(k) for k in ("seq", "hash", "at", "mac"))
        if not (isinstance(seq, int) and isinstance(hash_, str) and isinstance(at, str)
                and isinstance(mac, str)) or not hash_.isascii() or not at.isascii():
            forged.append(f"{source} line {number}: a head of this chain with missing fields")
            continue
        if key.mac(_signed(chain_id, seq, hash_, at)) != mac:
            forged.append(f"{source} line {number}: the head of record {seq} is not signed "
                          f"with this key")
            continue
        heads.append(LoggedHead(seq, hash_, at))
    return LoggedHeads(tuple(heads), tuple(forged))


class HeadLog:
    """The append-only head file."""

    def __init__(self, path: Path = DEFAULT_HEAD_LOG) -> None:
        self.path = path

    def write(self, fields: dict[str, Any]) -> None:
        """Append one head line (durable: fsynced). Raises OSError."""
        line = (json.dumps(fields, sort_keys=True, separators=(",", ":")) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, key: RecordKey, chain_id: str) -> LoggedHeads:
        """This chain's heads in the file; none when the file does not exist."""
        try:
            with self.path.open(encoding="utf-8", errors="replace") as lines:
                return read_heads(lines, key, chain_id, source=str(self.path))
        except FileNotFoundError:
            return LoggedHeads((), ())


def record_head(head_log: HeadLog | None, fields: dict[str, Any]) -> None:
    """Write a head to the head log and the structured log; never raises (the records are
    committed already: a head log that fails costs only that line, and says so)."""
    log.info(HEAD_EVENT, **fields)
    if head_log is None:
        return
    try:
        head_log.write(fields)
    except OSError as exc:
        log.error("e911.records.head_log_failed", path=str(head_log.path),
                  error=type(exc).__name__)
