"""PBX dial-plan lint: every way 911, 933, X911 or X933 would not reach the router.

Pure (no I/O): ``lint_asterisk(text, router="e911-router")`` reads the text of an Asterisk
``extensions.conf``, ``lint_freeswitch`` a FreeSWITCH dial plan XML; ``e911-router pbx lint``
(router/commands/pbx.py) reads the file and prints the report. docs/pbx/asterisk.md describes
the rules for operators.
"""

from dialplan.pbxlint.asterisk import lint_asterisk
from dialplan.pbxlint.freeswitch import lint_freeswitch
from dialplan.pbxlint.judge import Finding, FindingKind, LintReport

__all__ = ["Finding", "FindingKind", "LintReport", "lint_asterisk", "lint_freeswitch"]
