"""The `e911-router` command. Each command group lives in `router/commands/<group>.py` and
adds itself with `register(subparsers)`; a handler returns the process exit code.

Exit codes: 0 success, 1 a negative verdict (e.g. an invalid address), 2 bad input or
configuration (one line on stderr saying what is wrong).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from router import __version__, commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="e911-router",
        description="SIP call routing that makes every outbound call E911-compliant.",
    )
    parser.add_argument("--version", action="version", version=f"e911-router {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module.name.startswith("_"):  # shared helpers (commands/_common.py), not a group
            continue
        importlib.import_module(f"router.commands.{module.name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
