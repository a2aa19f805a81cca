"""The dial plan's emergency strings as anchored regular expressions for Kamailio. Pure.

Kamailio decides two things before any worker sees a call: an emergency INVITE is exempt from
every limit, and when no worker takes it Kamailio sends it to the sorting center itself. Both
need the same answer the dial plan gives (docs/dialplan.md, rules 1-4), so the expressions are
built from the same `DialPlanConfig`, and they match the **whole** normalised dial string, never
a prefix: `9115551234`, `91100` and `99911` are not 911.

Kamailio's `=~` uses POSIX extended expressions, case-insensitive. Characters that would need a
backslash are written as bracket expressions (`[+]`, `[.]`) so the text survives the config
file's string quoting unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialplan import EMERGENCY_NUMBER, TEST_NUMBER, DialPlanConfig

SOS_URN = "^urn:service:sos([.].*)?$"
"""RFC 5031: `urn:service:sos` and every sub-service (`sos.fire`, ...) is emergency."""
TEST_SOS_URN = "^urn:service:test[.]sos([.].*)?$"
"""RFC 6881 s15: the emergency test service."""


@dataclass(frozen=True, slots=True)
class EmergencyPatterns:
    """Anchored POSIX EREs over the normalised dial string (separators and %-escapes removed)."""

    emergency: str
    """911, X911 for each one-digit access prefix X, +1911, the extra emergency numbers."""
    test: str
    """933, X933, +1933."""
    sos_urn: str = SOS_URN
    test_urn: str = TEST_SOS_URN


def emergency_patterns(config: DialPlanConfig) -> EmergencyPatterns:
    prefixes = "".join(sorted({p for p in config.access_prefixes if len(p) == 1}))
    return EmergencyPatterns(
        emergency=_anchored(EMERGENCY_NUMBER, prefixes, config.extra_emergency_numbers),
        test=_anchored(TEST_NUMBER, prefixes, ()),
    )


def _anchored(number: str, prefixes: str, extras: tuple[str, ...]) -> str:
    # Rule 2: the number alone or after ONE access digit; rule 3: its +1 spelling; rule 4:
    # operator extras, whole strings.
    forms = [f"[{prefixes}]?{number}" if prefixes else number, f"[+]1{number}"]
    forms += sorted(set(extras))
    return "^(" + "|".join(forms) + ")$"
