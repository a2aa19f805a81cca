"""`e911-router address validate --json '{...}'`: validate one address against the MSAG.

Prints the result as one JSON object (`ValidationResult.to_json()`) and exits 0 when the
address is valid, 1 when it is invalid, 2 when the input is malformed (not JSON, not an
object, an unknown field) or no MSAG can be loaded (one `error: ...` line on stderr).

The MSAG comes from `--msag FILE` (repeatable) when given, else from the store
(`E911_DATABASE_URL`), else from the shipped sample in `config/msag/` (with a note on stderr).
`load_index` is the one place that decides.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from router.commands._common import open_settings_store
from router.location.civic import AddressInput
from router.location.msag import MsagIndex, parse_msag_files
from router.location.validate import validate_address
from router.observe import configure_logging
from router.settings import load_settings_from_environment
from router.settings_parsers import SettingsError

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

SHIPPED_MSAG_DIR = Path(__file__).resolve().parents[2] / "config" / "msag"
"""The Montana sample and the Canadian fixture (see config/msag/PROVENANCE.md)."""


class MsagUnavailable(Exception):
    """No MSAG could be loaded; the message says why."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("address", help="validate civic addresses against the MSAG")
    commands = group.add_subparsers(dest="address_command", metavar="COMMAND", required=True)
    validate = commands.add_parser(
        "validate", help="validate one address; exit 0 valid, 1 invalid, 2 malformed input",
        description="Validate an address given as a JSON object with the fields country, "
                    "house_number, street, street2, city, state, postal_code, plus4.")
    validate.add_argument("--json", dest="address_json", required=True, metavar="JSON",
                          help="the address as a JSON object")
    validate.add_argument("--msag", action="append", default=[], metavar="FILE",
                          help="validate against this MSAG CSV (repeatable) instead of the "
                               "store")
    validate.add_argument("--env-file", help="read this file instead of .env")
    validate.set_defaults(handler=_validate_command)


def parse_address_json(text: str) -> AddressInput:
    """The JSON object -> AddressInput; ValueError with a one-line reason otherwise."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--json is not valid JSON: {exc.msg} at character {exc.pos}") from exc
    if not isinstance(data, dict):
        raise ValueError("--json must be a JSON object of address fields")
    for key, value in data.items():
        if value is not None and not isinstance(value, str | int):
            raise ValueError(f"address field {key!r} must be a string")
    try:
        return AddressInput.from_mapping(data)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from exc


@dataclass(frozen=True, slots=True)
class LoadedMsag:
    index: MsagIndex
    source: str
    """Where the rows came from, for the user ("store sqlite:///var/e911.db", file names)."""
    fallback: str = ""
    """Why the shipped sample is used instead of the store ("" when it is not)."""


def load_index(msag_files: Sequence[str], env_file: str | None = None) -> LoadedMsag:
    """The index to validate against, and where it came from.

    `--msag` files win; otherwise the extract in force in the store; if the store has none
    (nothing imported yet) or cannot be opened, the shipped sample, with the reason in
    `fallback`. Raises MsagUnavailable when the chosen files do not parse.
    """
    if msag_files:
        return _index_from_files([Path(f) for f in msag_files])
    try:
        settings = load_settings_from_environment(env_file)
    except SettingsError as exc:
        raise MsagUnavailable(str(exc)) from exc
    configure_logging(settings.log_level, settings.log_format.value)  # stdout is the JSON
    reason = ""
    try:
        store = open_settings_store(settings, migrate=False)
        try:
            rows = store.load_msag_rows()
        finally:
            store.close()
        if rows:
            return LoadedMsag(MsagIndex.from_rows(rows), f"store {store.describe()}")
        reason = "no MSAG imported in the store"
    except Exception as exc:  # an unmigrated or unreachable store: fall back, and say so
        reason = f"store unavailable ({type(exc).__name__})"
    shipped = _index_from_files(sorted(SHIPPED_MSAG_DIR.glob("*.csv")))
    return LoadedMsag(shipped.index, shipped.source, reason)


def _index_from_files(paths: Sequence[Path]) -> LoadedMsag:
    if not paths:
        raise MsagUnavailable("no MSAG files found")
    try:
        parsed = parse_msag_files(paths)
    except OSError as exc:
        raise MsagUnavailable(f"cannot read MSAG file: {exc.strerror}: {exc.filename}") from exc
    if not parsed.ok:
        raise MsagUnavailable(f"MSAG {parsed.source_name} has {len(parsed.errors)} error(s), "
                              f"first: {parsed.errors[0]}; run `e911-router msag check`")
    return LoadedMsag(MsagIndex.from_rows(parsed.rows), parsed.source_name)


def run_validate(address_json: str, index: MsagIndex) -> tuple[int, str]:
    """(exit code, stdout JSON) for an already parsed index; ValueError on bad input."""
    raw = parse_address_json(address_json)
    result = validate_address(raw, index)
    return (EXIT_VALID if result.valid else EXIT_INVALID), json.dumps(result.to_json())


def _validate_command(args: argparse.Namespace) -> int:
    try:
        parse_address_json(args.address_json)
        loaded = load_index(args.msag, args.env_file)
        code, out = run_validate(args.address_json, loaded.index)
    except (ValueError, MsagUnavailable) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    if loaded.fallback:
        sys.stderr.write(f"note: {loaded.fallback}; validating against the shipped sample "
                         f"{loaded.source}\n")
    sys.stdout.write(out + "\n")
    return code
