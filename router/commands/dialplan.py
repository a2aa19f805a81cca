"""``e911-router dialplan classify TARGET``: show how this site's dial plan reads a target.

Prints one JSON object and exits 0 when the target could be read (whatever its class),
or prints ``error: ...`` on stderr and exits 2 when it could not, or when the settings or
the dial plan they describe are refused.
"""

from __future__ import annotations

import argparse
import json
import sys

from dialplan import DialPlanConfig, DialPlanParseError, classify
from router.commands._common import load_settings_or_none

EXIT_OK = 0
EXIT_USAGE = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``dialplan`` command group to the top-level parser."""
    group = sub.add_parser("dialplan", help="inspect the dial plan")
    commands = group.add_subparsers(dest="dialplan_command", metavar="COMMAND", required=True)
    classify_parser = commands.add_parser(
        "classify",
        help="classify a Request-URI or dial string as emergency/emergency_test/normal/invalid",
        description=(
            "Classify TARGET (sip:, sips:, tel:, urn:service:, <name-addr> or a dial string) "
            "under the dial plan in the E911_* settings and print one JSON object."
        ),
    )
    classify_parser.add_argument("target", metavar="TARGET")
    classify_parser.add_argument("--env-file", help="read this file instead of .env")
    classify_parser.set_defaults(handler=_classify_command)


def run_classify(target: str, config: DialPlanConfig) -> tuple[int, str, str]:
    """Classify ``target`` under ``config``: (exit code, stdout text, stderr text)."""
    try:
        dialed = classify(target, config)
    except DialPlanParseError as exc:
        return EXIT_USAGE, "", f"error: {exc}\n"
    document = {
        "call_class": dialed.call_class.value,
        "dialed": dialed.dialed,
        "normalized": dialed.normalized,
        "service_urn": dialed.service_urn,
    }
    return EXIT_OK, json.dumps(document) + "\n", ""


def _classify_command(args: argparse.Namespace) -> int:
    # Loading the settings also runs the dial-plan safety lint, so a refused
    # dial plan stops this command exactly as it would stop startup.
    settings = load_settings_or_none(args.env_file)
    if settings is None:
        return EXIT_USAGE
    code, out, err = run_classify(args.target, settings.dialplan_config())
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code
