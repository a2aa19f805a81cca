"""``e911-router pbx lint FILE --router NAME``: would 911/933 from this PBX reach the router?

Reads an Asterisk ``extensions.conf`` (or a FreeSWITCH dial plan XML file: one that starts
with ``<``) and prints every way 911, 933, X911 or X933 would not reach the router's PJSIP
endpoint/trunk (FreeSWITCH: gateway or host) NAME (dialplan/pbxlint, docs/pbx/). Exit 0
when clean, 1 with findings, 2 when the file cannot be read. One line a finding
(``FILE:LINE: [context] DIAL: kind: message``) or, with ``--json``, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dialplan import DEFAULT_CONFIG, DialPlanConfig
from dialplan.pbxlint import LintReport, lint_asterisk, lint_freeswitch
from router.commands._common import load_settings_or_none

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_UNREADABLE = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``pbx`` command group to the top-level parser."""
    group = sub.add_parser("pbx", help="check a PBX's configuration against the router")
    commands = group.add_subparsers(dest="pbx_command", metavar="COMMAND", required=True)
    lint = commands.add_parser(
        "lint",
        help="report every way 911/933/X911/X933 in a PBX dial plan misses the router",
        description=(
            "Read an Asterisk extensions.conf (or a FreeSWITCH dial plan XML file) and report "
            "each way 911, 933, X911 or X933 "
            "would not reach the router: shadowing patterns, missing X911 routes, 911 needing "
            "a prefix, routes that bypass the router, no failover. Exit 0 clean, 1 findings, "
            "2 unreadable file."
        ),
    )
    lint.add_argument("file", metavar="FILE", type=Path,
                      help="extensions.conf, or a FreeSWITCH dial plan .xml")
    lint.add_argument("--router", required=True, metavar="NAME",
                      help="the PJSIP endpoint or trunk (FreeSWITCH: gateway or host) that "
                           "leads to the router")
    lint.add_argument("--pbx", choices=("auto", "asterisk", "freeswitch"), default="auto",
                      help="the dial plan's kind (auto: FreeSWITCH when the file starts "
                           "with '<')")
    lint.add_argument("--context", action="append", default=[], metavar="NAME",
                      help="a context phones dial from (repeatable; default: found in the file)")
    lint.add_argument("--json", action="store_true", help="print one JSON object")
    lint.add_argument("--env-file", metavar="FILE",
                      help="the router's settings: judge the numbers sent to it under its dial "
                           "plan (E911_ACCESS_PREFIXES, ...); default: the router's defaults")
    lint.set_defaults(handler=_lint_command)


def render_text(path: str, report: LintReport) -> str:
    lines = [
        f"{path}:{f.line}: [{f.context}] {f.dial or '-'}: {f.kind.value}: {f.message}"
        + (f" (see line {f.related_line})" if f.related_line else "")
        for f in report.findings
    ]
    checked = ", ".join(report.contexts) or "none"
    verdict = (f"{len(report.findings)} finding(s)" if report.findings
               else "911 and 933 reach the router")
    lines.append(f"{path}: {verdict} (router {report.router}; contexts checked: {checked})")
    return "\n".join(lines) + "\n"


def render_json(path: str, report: LintReport) -> str:
    document = {
        "file": path,
        "router": report.router,
        "contexts": list(report.contexts),
        "clean": report.clean,
        "findings": [{"file": path, **f.as_dict()} for f in report.findings],
    }
    return json.dumps(document, indent=2) + "\n"


def _lint_command(args: argparse.Namespace) -> int:
    path = str(args.file)
    config: DialPlanConfig = DEFAULT_CONFIG
    if args.env_file:
        settings = load_settings_or_none(args.env_file)
        if settings is None:
            return EXIT_UNREADABLE
        config = settings.dialplan_config()
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"error: cannot read {path}: {exc}\n")
        return EXIT_UNREADABLE
    freeswitch = args.pbx == "freeswitch" or (args.pbx == "auto"
                                              and text.lstrip().startswith("<"))
    lint = lint_freeswitch if freeswitch else lint_asterisk
    report = lint(text, router=args.router, contexts=args.context, config=config)
    sys.stdout.write(render_json(path, report) if args.json else render_text(path, report))
    return EXIT_CLEAN if report.clean else EXIT_FINDINGS
