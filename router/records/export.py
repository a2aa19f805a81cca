"""Call records for an auditor: CSV (one row a call) or JSON (one object a call), with the
notification outcomes joined from the outbox at export time. Pure formatting.

CSV cells carry caller-controlled text (the dialled string, the SIP user, the Call-ID, the
PIDF-LO): a spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or TAB/CR/LF before
one) as a formula, e.g. `=HYPERLINK(...)` (OWASP "CSV Injection"). `csv_cell` neutralises such a
cell with one leading single quote, and also a cell that already starts with one, so the value
is always recovered by removing one leading `'`. Plain numbers (`+14065551001`, `-5`) are no
formula and stay as they are. The JSON export keeps every value raw."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from router.records.chain import instant
from router.records.model import ChainedRecord
from router.records.store import NotificationOutcome

CSV_COLUMNS = (
    "seq", "id", "recorded_at", "invite_at", "answered_at", "ended_at", "call_class",
    "outcome", "result", "final_status", "action", "path", "dialed", "account_id", "sip_user",
    "sip_call_id", "callback_number", "trunks_tried", "trunk_used", "location_id",
    "location_source", "pidf_sha256", "pidf_lo", "pidf_pruned_at", "notifications",
    "worker", "call_ref", "prev_hash", "hash", "retain_until", "chain_version",
)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "'")
"""First characters that make a spreadsheet read a cell as a formula (OWASP), and the quote
itself (so removing one leading quote always gives the value back)."""
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def csv_cell(value: object) -> object:
    """`value` safe to put in a CSV cell a spreadsheet will open (see the module docstring)."""
    if value is None:
        return ""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def record_json(item: ChainedRecord, notifications: Sequence[NotificationOutcome]
                ) -> dict[str, Any]:
    r = item.record
    return {
        "seq": item.seq, "id": r.id, "recorded_at": instant(item.recorded_at),
        "invite_at": instant(r.invite_at), "answered_at": instant(r.answered_at),
        "ended_at": instant(r.ended_at), "call_class": r.call_class, "outcome": r.outcome,
        "result": r.result, "final_status": r.final_status, "action": r.action,
        "path": r.path, "dialed": r.dialed, "account_id": r.account_id, "sip_user": r.sip_user,
        "sip_call_id": r.sip_call_id, "callback_number": r.callback_number,
        "trunks_tried": [t.to_json() for t in r.trunks_tried], "trunk_used": r.trunk_used,
        "location_id": r.location_id, "location_source": r.location_source,
        "pidf_sha256": r.pidf_sha256, "pidf_lo": r.pidf_lo,
        "pidf_pruned_at": instant(item.pidf_pruned_at),
        "notifications": [{"recipient": n.recipient, "state": n.state, "attempts": n.attempts,
                           "sent_at": instant(n.sent_at),
                           "possible_duplicate": n.possible_duplicate}
                          for n in notifications],
        "worker": r.worker, "call_ref": r.call_ref,
        "prev_hash": item.prev_hash, "hash": item.hash,
        "retain_until": instant(item.retain_until), "chain_version": item.version,
    }


def write_json(out: TextIO, items: Sequence[ChainedRecord],
               notifications: Mapping[str, Sequence[NotificationOutcome]],
               header: Mapping[str, Any]) -> None:
    document = dict(header)
    document["records"] = [record_json(i, notifications.get(i.record.sip_call_id, ()))
                           for i in items]
    json.dump(document, out, indent=2, sort_keys=True)
    out.write("\n")


def write_csv(out: TextIO, items: Sequence[ChainedRecord],
              notifications: Mapping[str, Sequence[NotificationOutcome]]) -> None:
    """Nested values in one cell each: trunks as `uri status;...`, notifications as
    `recipient state;...` (the JSON export keeps every detail). Formula cells neutralised
    (`csv_cell`)."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for item in items:
        row = record_json(item, notifications.get(item.record.sip_call_id, ()))
        row["trunks_tried"] = ";".join(
            f"{t['trunk']} {'timeout' if t['timed_out'] else t['status']}"
            for t in row["trunks_tried"])
        row["notifications"] = ";".join(f"{n['recipient']} {n['state']}"
                                        for n in row["notifications"])
        writer.writerow({k: csv_cell(row[k]) for k in CSV_COLUMNS})
