"""`e911-router msag check|import FILE.csv...`: load the operator's MSAG extract.

`check` parses and prints the report (errors and ESN overlaps with file line numbers) and
changes nothing. `import` does the same and, when there is no error, replaces the extract in
the store in one transaction (`Store.replace_msag`); with an error nothing is written and the
previous extract stays in force. Several files (one per state or province) are one import.

Exit codes: 0 parsed (and imported) without errors, overlaps allowed; 1 the file has errors;
2 a file cannot be read or the store cannot be opened.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from router.commands._common import load_settings_or_none, open_settings_store
from router.location.msag import MsagImport, parse_msag_files

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("msag", help="check or import an MSAG extract (CSV)")
    commands = group.add_subparsers(dest="msag_command", metavar="COMMAND", required=True)
    for name, help_text, handler in (
        ("check", "parse and report errors and ESN overlaps; change nothing", _check_command),
        ("import", "parse, report, and replace the store's MSAG if there is no error",
         _import_command),
    ):
        parser = commands.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("files", nargs="+", metavar="FILE.csv",
                            help="MSAG CSV in the layout of config/msag/FORMAT.md")
        parser.add_argument("--json", action="store_true",
                            help="print the report as one JSON object")
        if name == "import":
            parser.add_argument("--env-file", help="read this file instead of .env")
        parser.set_defaults(handler=handler)


def report_json(parsed: MsagImport) -> dict[str, Any]:
    return {
        "source": parsed.source_name,
        "sha256": parsed.sha256,
        "ok": parsed.ok,
        "rows": len(parsed.rows),
        "ignored_columns": list(parsed.ignored_columns),
        "errors": [{"file": e.file or parsed.source_name, "line": e.line, "code": e.code,
                    "column": e.column, "msag_id": e.msag_id, "message": e.message}
                   for e in parsed.errors],
        "overlaps": [{"lines": [o.first.line, o.second.line],
                      "msag_ids": [o.first.msag_id, o.second.msag_id],
                      "esns": [o.first.esn, o.second.esn],
                      "street": o.first.street_label(),
                      "community": o.first.msag_community,
                      "low": o.low, "high": o.high} for o in parsed.overlaps],
    }


def _parse(files: list[str]) -> MsagImport | None:
    try:
        return parse_msag_files([Path(f) for f in files])
    except OSError as exc:
        sys.stderr.write(f"error: cannot read {exc.filename}: {exc.strerror}\n")
        return None


def _print_report(parsed: MsagImport, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps({**report_json(parsed), **(extra or {})}) + "\n")
        return
    for line in parsed.report_lines():
        sys.stdout.write(line + "\n")
    if not parsed.ok:
        sys.stdout.write("refused: fix the errors above; nothing was changed\n")


def _check_command(args: argparse.Namespace) -> int:
    parsed = _parse(args.files)
    if parsed is None:
        return EXIT_USAGE
    _print_report(parsed, args.json)
    return EXIT_OK if parsed.ok else EXIT_ERRORS


def _import_command(args: argparse.Namespace) -> int:
    parsed = _parse(args.files)
    if parsed is None:
        return EXIT_USAGE
    if not parsed.ok:
        _print_report(parsed, args.json)
        return EXIT_ERRORS
    settings = load_settings_or_none(args.env_file, configure_logs=True)  # logs go to stderr
    if settings is None:
        return EXIT_USAGE
    # Imported here so `msag check` does not load SQLAlchemy and the drivers.
    from sqlalchemy.exc import SQLAlchemyError

    from router.db.errors import StoreError

    try:
        store = open_settings_store(settings)
    except Exception as exc:  # the driver's own exception types vary; say which and stop
        sys.stderr.write(f"error: cannot open the store: {type(exc).__name__}: {exc}\n")
        return EXIT_USAGE
    try:
        version = store.replace_msag(parsed)
    except (StoreError, SQLAlchemyError) as exc:
        # replace_msag is one transaction: on any failure the previous extract is in force.
        sys.stderr.write(f"error: import refused by the store, previous extract kept: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0]}\n")
        return EXIT_ERRORS
    finally:
        store.close()
    if args.json:
        _print_report(parsed, True, {"version": version.version})
    else:
        _print_report(parsed, False)
        sys.stdout.write(f"imported as MSAG version {version.version} "
                         f"({version.row_count} rows) into {store.describe()}\n")
    return EXIT_OK
