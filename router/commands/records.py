"""`e911-router records verify|export`: the call records an auditor asks for.

`verify` walks the whole chain with the records key (HMAC, E911_RECORDS_KEY or its key file),
the store's head and the heads logged outside the store (`var/records/heads.jsonl`, plus any
`--heads FILE`): exit 0 and "chain intact" when every record holds, exit 1 naming the first
broken record (seq and id) and why, or a head line the key does not sign. `export` writes the
records whose INVITE came in [--from, --to) as CSV or JSON, with the notification outcomes
joined from the outbox. docs/observability.md, "Call records".

Exit codes: 0 fine, 1 the chain is broken, 2 bad arguments or the store cannot be read.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from router.commands._common import load_settings_or_none, open_settings_store
from router.settings import Settings

if TYPE_CHECKING:
    from router.store.store import Store

EXIT_OK = 0
EXIT_BROKEN = 1
EXIT_USAGE = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("records", help="verify or export the 911/933 call records")
    commands = group.add_subparsers(dest="records_command", metavar="COMMAND", required=True)
    verify = commands.add_parser("verify", help="check the hash chain; name the first broken "
                                                "record")
    verify.add_argument("--env-file", help="read this file instead of .env")
    verify.add_argument("--heads", type=Path, action="append", default=[], metavar="FILE",
                        help="also check the chain against the heads in FILE (another host's "
                             "head log, or `e911.records.chain_head` log lines); repeatable")
    verify.set_defaults(handler=_verify_command)
    export = commands.add_parser("export", help="write records as CSV or JSON for an auditor")
    export.add_argument("--from", dest="start", type=_instant, metavar="WHEN",
                        help="first INVITE time included (2026-03-01 or ISO 8601; UTC)")
    export.add_argument("--to", dest="end", type=_instant, metavar="WHEN",
                        help="INVITE times before this one (exclusive)")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--output", type=Path, help="write here instead of stdout")
    export.add_argument("--env-file", help="read this file instead of .env")
    export.set_defaults(handler=_export_command)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a date (2026-03-01) or an ISO 8601 time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _open(env_file: str | None) -> tuple[Store, Settings] | None:
    settings = load_settings_or_none(env_file, configure_logs=True)
    if settings is None:
        return None
    try:
        return open_settings_store(settings, migrate=False), settings
    except Exception as exc:
        print(f"error: cannot open the store ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None


def _verify_command(args: argparse.Namespace) -> int:
    from router.records.audit import RecordKeyError, audit

    opened = _open(args.env_file)
    if opened is None:
        return EXIT_USAGE
    store, settings = opened
    try:
        report = audit(store, settings, head_files=args.heads)
    except (RecordKeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        print(f"error: cannot read the records ({type(exc).__name__}: {exc})", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    verdict = report.verdict
    for problem in report.forged_heads:
        print(f"head log BROKEN: {problem}")
    if verdict.broken is not None:
        broken = verdict.broken
        print(f"chain BROKEN at record {broken.seq} ({broken.id}): {broken.reason}")
        print(f"records checked: {verdict.checked}; records before {broken.seq} are intact")
        return EXIT_BROKEN
    if report.forged_heads:
        return EXIT_BROKEN
    print(f"chain intact: {verdict.checked} records, last seq {verdict.last_seq}")
    print(f"head hash: {verdict.last_hash}")
    print(f"keyed records: {verdict.keyed} (key id {report.key_id}); legacy records "
          f"(before migration 0008, SHA-256 only): {verdict.legacy}")
    files = ", ".join(report.head_files) or "no head log found"
    print(f"logged heads matched: {verdict.heads_checked} ({files})")
    return EXIT_OK


def _export_command(args: argparse.Namespace) -> int:
    from router.records.export import write_csv, write_json
    from router.records.store import RecordStore

    if args.start and args.end and args.start >= args.end:
        print("error: --from must be before --to", file=sys.stderr)
        return EXIT_USAGE
    opened = _open(args.env_file)
    if opened is None:
        return EXIT_USAGE
    store, settings = opened
    records = RecordStore(store)
    chain: dict[str, object]
    try:
        items = records.between(args.start, args.end)
        notifications = records.notifications([i.record.sip_call_id for i in items])
        chain = _chain_summary(store, settings)
    except Exception as exc:
        print(f"error: cannot read the records ({type(exc).__name__}: {exc})", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    with contextlib.ExitStack() as stack:
        out: TextIO = (stack.enter_context(open(args.output, "w", encoding="utf-8", newline=""))
                       if args.output else sys.stdout)
        if args.format == "json":
            write_json(out, items, notifications, {
                "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "from": args.start.isoformat() if args.start else None,
                "to": args.end.isoformat() if args.end else None,
                "chain": chain,
            })
        else:
            write_csv(out, items, notifications)
    if chain["intact"] is not True:
        print("warning: the record chain is broken or could not be checked; run "
              "`e911-router records verify`", file=sys.stderr)
    return EXIT_OK


def _chain_summary(store: Store, settings: Settings) -> dict[str, object]:
    """The export's `chain` object: the verdict, or why there is none (no key)."""
    from router.records.audit import RecordKeyError, audit

    try:
        report = audit(store, settings)
    except RecordKeyError as exc:
        return {"intact": None, "error": str(exc)}
    verdict = report.verdict
    return {"intact": report.ok, "records": verdict.checked, "keyed": verdict.keyed,
            "legacy": verdict.legacy, "heads_checked": verdict.heads_checked,
            "head_seq": verdict.last_seq, "head_hash": verdict.last_hash,
            "first_broken": verdict.broken.seq if verdict.broken else None}
