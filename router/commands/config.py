"""`e911-router config check|show`: validate the configuration the way startup does."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from enum import Enum
from pathlib import Path
from typing import Any

from router.commands._common import load_settings_or_none
from router.redaction import is_secret_variable, redact_url


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("config", help="check or show the configuration")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="load .env + environment; exit 2 on a bad value")
    check.add_argument("--env-file", help="read this file instead of .env")
    check.set_defaults(handler=_check)
    show = actions.add_parser("show", help="print the effective settings as JSON (secrets "
                                           "masked)")
    show.add_argument("--env-file", help="read this file instead of .env")
    show.set_defaults(handler=_show)


def _check(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file)
    if settings is None:
        return 2
    print("configuration OK")
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _show(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file)
    if settings is None:
        return 2
    out = {f.name: _shown(f.name, getattr(settings, f.name)) for f in fields(settings)}
    print(json.dumps(out, indent=2))
    return 0


def _shown(name: str, value: Any) -> Any:
    """A setting as `config show` prints it: secrets as "<set>", URLs without their
    credentials (router.redaction decides which is which)."""
    variable = f"E911_{name.upper()}"
    if is_secret_variable(variable):
        return "<set>" if value else ""
    if variable.endswith("_URL") and isinstance(value, str):
        return redact_url(value) if value else ""
    return _jsonable(value)
