"""The dial plan: parse a dialled target and classify it (pure: no I/O, logging or clock).

``classify("sip:9911@pbx;user=phone")`` -> ``Dialed(call_class=EMERGENCY, normalized="911",
access_prefix="9", ...)``. ``lint(config)`` refuses a configuration under which 911 or 933
would be missed. docs/dialplan.md describes the rules for operators.
"""

from dialplan.classify import (
    DEFAULT_CONFIG,
    EMERGENCY_NUMBER,
    SERVICE_CODES,
    TEST_NUMBER,
    CallClass,
    Dialed,
    classify,
    classify_target,
)
from dialplan.config import DialPlanConfig
from dialplan.errors import DialPlanConfigError, DialPlanParseError
from dialplan.lint import lint
from dialplan.target import Scheme, Target, parse_target

__all__ = [
    "DEFAULT_CONFIG",
    "EMERGENCY_NUMBER",
    "SERVICE_CODES",
    "TEST_NUMBER",
    "CallClass",
    "DialPlanConfig",
    "DialPlanConfigError",
    "DialPlanParseError",
    "Dialed",
    "Scheme",
    "Target",
    "classify",
    "classify_target",
    "lint",
    "parse_target",
]
