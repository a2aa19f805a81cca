"""Synchronous address validation against the MSAG: the gate before an address is stored.

The pipeline reads top to bottom in `validate_address`:

    characters -> fields (country, state, postal code) -> dispatchable? (PO box, general
    delivery, rural-route box, house number) -> Pub 28 street normalisation -> MSAG
    community -> MSAG street -> house-number range and parity -> ESN -> street2

Each stage adds `FieldIssue`s (field, stable code, what to fix, suggestions). Any error makes
the result invalid and `normalized` None: an invalid address is never stored. Pure: no I/O,
no clock, no logging; the index comes in as a parameter. docs/address-validation.md lists
every code.

Decisions a 9-1-1 system has to make here:
- A missing directional or street type is completed from the MSAG only when exactly one
  street of that name covers the house number (USPS CASS does the same); otherwise the
  address is ambiguous and the user picks ("100 Main St" in White Sulphur Springs is either
  "100 E MAIN ST" or "100 MAIN ST W").
- A misspelt street or city is never silently corrected when two candidates exist
  ("LARAMEE" -> "E LARAMIE ST" or "E LARIME ST"): the user is shown both.
- An ESN conflict in the MSAG (overlapping ranges, different ESNs) does not make an existing
  address unsavable: the result is valid, carries no ESN, and says `esn_conflict` with the
  candidates, unless the ZIP picks exactly one of them.
- The postal code stored (and sent to the PSAP in the PIDF-LO) never contradicts the MSAG
  range: a ZIP of none of the covering rows is replaced by the rows' one ZIP (warning naming
  both) or refused (several ZIPs, or a Canadian FSA that cannot make a whole postal code).
- Every field's own error comes back in one answer; only the MSAG stages wait for clean
  fields.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

import usaddress
from rapidfuzz import fuzz, process

from router.location.civic import AddressInput, CivicAddress
from router.location.msag import (
    CommunityKey,
    EsnResolution,
    MsagIndex,
    MsagRow,
    StreetKey,
    resolve_esn,
)
from router.location.usps import (
    CA_POSTAL_FIRST_LETTER,
    CA_POSTAL_INNER_LETTERS,
    CA_POSTAL_LETTERS,
    CA_PROVINCES,
    CA_STREET_TYPES,
    CA_TYPE_FIRST,
    DIRECTIONALS,
    HIGHWAY_WORDS,
    ORDINAL_WORDS,
    SECONDARY_UNITS,
    US_STATES,
    US_STREET_TYPES,
    ordinal,
    state_code,
)


class ValidationStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"


class IssueCode(StrEnum):
    """Stable codes for errors and warnings (the API and UI switch on these)."""

    # Errors: the input itself.
    REQUIRED = "required"
    FORBIDDEN_CHARACTER = "forbidden_character"
    TOO_LONG = "too_long"
    UNSUPPORTED_COUNTRY = "unsupported_country"
    UNKNOWN_STATE = "unknown_state"
    BAD_POSTAL_CODE = "bad_postal_code"
    BAD_PLUS4 = "bad_plus4"
    POSTAL_CODE_PROVINCE_MISMATCH = "postal_code_province_mismatch"
    POSTAL_CODE_NOT_IN_MSAG = "postal_code_not_in_msag"
    # Errors: not a place help can be sent to.
    PO_BOX = "po_box"
    GENERAL_DELIVERY = "general_delivery"
    RURAL_ROUTE = "rural_route"
    MISSING_HOUSE_NUMBER = "missing_house_number"
    BAD_HOUSE_NUMBER = "bad_house_number"
    # Errors: not in the MSAG.
    NOT_IN_MSAG = "not_in_msag"
    UNKNOWN_COMMUNITY = "unknown_community"
    UNKNOWN_STREET = "unknown_street"
    STREET_IN_OTHER_COMMUNITY = "street_in_other_community"
    AMBIGUOUS_STREET = "ambiguous_street"
    AMBIGUOUS_COMMUNITY = "ambiguous_community"
    HOUSE_NUMBER_OUT_OF_RANGE = "house_number_out_of_range"
    HOUSE_NUMBER_WRONG_PARITY = "house_number_wrong_parity"
    # Warnings: valid, but look.
    STREET_COMPLETED = "street_completed"
    STREET_SPLIT = "street_split"
    CITY_CORRECTED = "city_corrected"
    CITY_FROM_POSTAL_CODE = "city_from_postal_code"
    POSTAL_CODE_CORRECTED = "postal_code_corrected"
    SIMILAR_STREET = "similar_street"
    ESN_CONFLICT = "esn_conflict"
    ESN_RESOLVED_BY_POSTAL_CODE = "esn_resolved_by_postal_code"
    UNIT_FROM_HOUSE_NUMBER = "unit_from_house_number"


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One finding about one input field: what is wrong (or worth a look) and what to do."""

    field: str
    """The AddressInput field ("street", "city", ...)."""
    code: IssueCode
    message: str
    suggestions: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "code": self.code.value, "message": self.message,
                "suggestions": list(self.suggestions)}


FieldError = FieldIssue
FieldWarning = FieldIssue


@dataclass(frozen=True, slots=True)
class EsnCandidate:
    """One of the MSAG rows in an ESN conflict."""

    msag_id: str
    esn: str
    psap_id: str
    zip: str
    line: int


@dataclass(frozen=True, slots=True)
class MsagMatch:
    """The MSAG range an address fell in. `esn` is empty when the MSAG is in conflict."""

    msag_id: str
    esn: str
    msag_community: str
    county: str
    psap_id: str
    low: int
    high: int
    parity: str
    resolved_by: str = "range"
    """"range", "zip" (the ZIP picked one of several ESNs) or "" (conflict, no ESN)."""
    conflicts: tuple[EsnCandidate, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "msag_id": self.msag_id, "esn": self.esn, "msag_community": self.msag_community,
            "county": self.county, "psap_id": self.psap_id, "low": self.low,
            "high": self.high, "parity": self.parity, "resolved_by": self.resolved_by,
            "conflicts": [{"msag_id": c.msag_id, "esn": c.esn, "psap_id": c.psap_id,
                           "zip": c.zip, "line": c.line} for c in self.conflicts],
        }


@dataclass(frozen=True, slots=True)
class ValidationResult:
    status: ValidationStatus
    normalized: CivicAddress | None
    msag: MsagMatch | None
    errors: tuple[FieldIssue, ...] = ()
    warnings: tuple[FieldIssue, ...] = ()

    @property
    def valid(self) -> bool:
        return self.status is ValidationStatus.VALID

    def to_json(self) -> dict[str, Any]:
        normalized: dict[str, Any] | None = None
        if self.normalized is not None:
            normalized = {name: getattr(self.normalized, name)
                          for name in CivicAddress.__dataclass_fields__ if name != "extras"}
        return {
            "status": self.status.value,
            "normalized": normalized,
            "msag": self.msag.to_json() if self.msag else None,
            "errors": [e.to_json() for e in self.errors],
            "warnings": [w.to_json() for w in self.warnings],
        }


# --- stage 1: characters and lengths -------------------------------------------------------

MAX_LENGTHS: Final[dict[str, int]] = {
    "country": 32, "house_number": 16, "street": 100, "street2": 60, "city": 64,
    "state": 40, "postal_code": 12, "plus4": 8,
}
"""street2 is 60 by the issue (the dispatchable location line); the rest are generous
bounds on what a real address needs, so nothing unbounded reaches the PIDF-LO."""

_FORBIDDEN: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f<>\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff]"
)
"""Characters refused in every field: control characters (CR and LF would split a SIP
header, NUL truncates C strings), '<' and '>' (markup in the PIDF-LO XML body, RFC 4119),
and invisible or bidirectional formatting characters that make a stored address display
differently from what it is."""

_CHAR_NAMES: Final[dict[str, str]] = {
    "\r": "carriage return", "\n": "line feed", "\x00": "NUL", "\t": "tab",
    "<": "'<'", ">": "'>'",
}


def _check_characters(raw: AddressInput) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    for name, limit in MAX_LENGTHS.items():
        value: str = getattr(raw, name)
        bad = _FORBIDDEN.search(value)
        if bad:
            char = bad.group()
            label = _CHAR_NAMES.get(char, f"U+{ord(char):04X}")
            issues.append(FieldIssue(
                name, IssueCode.FORBIDDEN_CHARACTER,
                f"{name} contains {label}, which is not allowed in an address; remove it "
                "(no line breaks, control characters, '<' or '>')"))
        elif len(value.strip()) > limit:
            issues.append(FieldIssue(
                name, IssueCode.TOO_LONG,
                f"{name} is {len(value.strip())} characters; shorten it to {limit} or fewer"))
    return issues


def _clean(value: str) -> str:
    """Upper case, NFC, periods and commas dropped, whitespace collapsed (Pub 28 style)."""
    text = unicodedata.normalize("NFC", value).upper().replace(".", " ").replace(",", " ")
    return " ".join(text.split())


# --- stage 2: country, state, postal code --------------------------------------------------

_COUNTRIES: Final[dict[str, str]] = {
    "US": "US", "USA": "US", "U S": "US", "U S A": "US", "UNITED STATES": "US",
    "UNITED STATES OF AMERICA": "US", "CA": "CA", "CAN": "CA", "CANADA": "CA",
}
_ZIP: Final = re.compile(r"(\d{5})(?:[- ]?(\d{4}))?")
_PLUS4: Final = re.compile(r"\d{4}")
_CA_POSTAL: Final = re.compile(r"([A-Z]\d[A-Z]) ?(\d[A-Z]\d)")


@dataclass(frozen=True, slots=True)
class _Fields:
    country: str
    state: str
    postal_code: str
    plus4: str
    zip_key: str
    """5-digit ZIP or Canadian FSA: what the MSAG's zip column is compared with."""


def _check_fields(raw: AddressInput, issues: list[FieldIssue]) -> _Fields | None:
    country = _COUNTRIES.get(_clean(raw.country), "")
    if not raw.country.strip():
        issues.append(FieldIssue("country", IssueCode.REQUIRED,
                                 "country is required: US or CA"))
    elif not country:
        issues.append(FieldIssue(
            "country", IssueCode.UNSUPPORTED_COUNTRY,
            f"country {raw.country.strip()!r} is not supported; 9-1-1 addresses here are in "
            "the US or Canada (US or CA)", ("US", "CA")))
    state = ""
    if not raw.state.strip():
        issues.append(FieldIssue("state", IssueCode.REQUIRED,
                                 "state (or province) is required, e.g. MT or QC"))
    elif country:
        state = state_code(country, raw.state) or ""
        if not state:
            names = US_STATES if country == "US" else CA_PROVINCES
            kind = "US state" if country == "US" else "Canadian province or territory"
            issues.append(FieldIssue(
                "state", IssueCode.UNKNOWN_STATE,
                f"{raw.state.strip()!r} is not a {kind}; use its two-letter code",
                _state_suggestions(raw.state, names)))
    postal_code, plus4, zip_key = "", "", ""
    text = _clean(raw.postal_code)
    if not text:
        issues.append(FieldIssue("postal_code", IssueCode.REQUIRED,
                                 "postal_code is required (ZIP code or Canadian postal code)"))
    elif country == "US":
        match = _ZIP.fullmatch(text)
        if match is None:
            issues.append(FieldIssue(
                "postal_code", IssueCode.BAD_POSTAL_CODE,
                f"ZIP code {raw.postal_code.strip()!r} is not 5 digits or ZIP+4 (59645 or "
                "59645-1234)"))
        else:
            postal_code = zip_key = match.group(1)
            plus4 = match.group(2) or ""
    elif country == "CA":
        postal_code = _check_ca_postal(text, state, issues)
        zip_key = postal_code[:3]
    extra = raw.plus4.strip()
    if extra:
        if country == "CA":
            issues.append(FieldIssue("plus4", IssueCode.BAD_PLUS4,
                                     "plus4 is for US ZIP codes only; leave it empty"))
        elif not _PLUS4.fullmatch(extra):
            issues.append(FieldIssue("plus4", IssueCode.BAD_PLUS4,
                                     f"plus4 {extra!r} must be 4 digits"))
        elif plus4 and plus4 != extra:
            issues.append(FieldIssue(
                "plus4", IssueCode.BAD_PLUS4,
                f"plus4 {extra} differs from the ZIP+4 in postal_code ({plus4}); keep one"))
        else:
            plus4 = extra
    if not country or not state:
        return None
    return _Fields(country, state, postal_code, plus4, zip_key)


def _check_required(raw: AddressInput, f: _Fields | None, issues: list[FieldIssue]) -> bool:
    """Street and city, reported with the other fields' errors (the MSAG stages would find
    them missing only after everything before them passed). The city may be empty when the
    postal code names its community. True if either is missing."""
    missing = False
    if not raw.street.strip():
        issues.append(FieldIssue("street", IssueCode.REQUIRED,
                                 "street is required: the street name, e.g. \"E Laramie St\""))
        missing = True
    if not raw.city.strip() and (f is None or not f.zip_key):
        issues.append(FieldIssue("city", IssueCode.REQUIRED,
                                 "city is required (the city or town of the address)"))
        missing = True
    return missing


def _check_ca_postal(text: str, province: str, issues: list[FieldIssue]) -> str:
    match = _CA_POSTAL.fullmatch(text)
    compact = text.replace(" ", "")
    if (match is None or compact[0] not in CA_POSTAL_LETTERS
            or compact[2] not in CA_POSTAL_INNER_LETTERS
            or compact[4] not in CA_POSTAL_INNER_LETTERS):
        issues.append(FieldIssue(
            "postal_code", IssueCode.BAD_POSTAL_CODE,
            f"postal code {text!r} is not a Canadian postal code (A1A 1A1, e.g. K1M 1M4)"))
        return ""
    code = f"{match.group(1)} {match.group(2)}"
    allowed = CA_POSTAL_FIRST_LETTER.get(province)
    if allowed is not None and code[0] not in allowed:
        owners = sorted(p for p, letters in CA_POSTAL_FIRST_LETTER.items() if code[0] in letters)
        issues.append(FieldIssue(
            "postal_code", IssueCode.POSTAL_CODE_PROVINCE_MISMATCH,
            f"postal code {code} is in {'/'.join(owners)}, not {province}; "
            f"{province} postal codes start with {'/'.join(sorted(allowed))}. Check the "
            "postal code or the province", tuple(owners)))
    return code


def _state_suggestions(value: str, names: dict[str, str]) -> tuple[str, ...]:
    text = _clean(value)
    found = process.extract(text, {code: name for code, name in names.items()},
                            scorer=fuzz.WRatio, limit=3, score_cutoff=70)
    return tuple(str(key) for _, _, key in found)


# --- stage 3: is this a place help can be sent to? ------------------------------------------

_PO_BOX: Final = re.compile(
    r"\bP ?O ?BOX\b|\bPOST OFFICE BOX\b|\bPOB\b|^BOX \d|\bBOX #?\d+$|\bLOCKBOX\b|\bPMB\b"
    r"|\bCASE POSTALE\b|^C ?P \d|^(?:PSC|CMR) \d")
_GENERAL_DELIVERY: Final = re.compile(r"\bGENERAL DELIVERY\b|\bGEN DEL\b|\bPOSTE RESTANTE\b")
_RURAL_ROUTE: Final = re.compile(
    r"^(?:RR|R R|RURAL ROUTE|RURAL RTE|RFD|HC|HCR|STAR ROUTE|HIGHWAY CONTRACT|HWY CONTRACT)"
    r" ?#?\d+\b|^SITE \d+ COMP \d+")


def _check_dispatchable(raw: AddressInput, issues: list[FieldIssue]) -> bool:
    """Reject mail-only addresses: a PIDF-LO must say where a person is (47 CFR 9.3,
    "dispatchable location"), and a box says where their mail goes."""
    found = False
    for name in ("house_number", "street", "street2"):
        text = _clean(getattr(raw, name)).replace("#", " # ")
        text = " ".join(text.split())
        code = _box_kind(text)
        if code is None and name == "street" and not found:
            code = _usaddress_box_kind(f"{_clean(raw.house_number)} {text}")
        if code is not None:
            found = True
            issues.append(FieldIssue(name, code, _BOX_MESSAGES[code]))
    return not found


def _box_kind(text: str) -> IssueCode | None:
    if _GENERAL_DELIVERY.search(text):
        return IssueCode.GENERAL_DELIVERY
    if _RURAL_ROUTE.search(text):
        return IssueCode.RURAL_ROUTE
    if _PO_BOX.search(text):
        return IssueCode.PO_BOX
    return None


def _usaddress_box_kind(text: str) -> IssueCode | None:
    """usaddress's CRF tagger as a second opinion on box spellings the patterns miss."""
    try:
        labels = {label for _, label in usaddress.parse(text)}
    except Exception:  # usaddress raises on odd token sequences; the patterns ran already
        return None
    if "USPSBoxGroupType" in labels:
        return IssueCode.RURAL_ROUTE
    if "USPSBoxType" in labels and "USPSBoxID" in labels:
        return IssueCode.PO_BOX
    return None


_BOX_MESSAGES: Final[dict[IssueCode, str]] = {
    IssueCode.PO_BOX: "a PO box is a mailbox, not a place 9-1-1 can send help to; enter the "
                      "street address of the building where you are",
    IssueCode.GENERAL_DELIVERY: "general delivery is a post office counter, not a place 9-1-1 "
                                "can send help to; enter the street address of the building",
    IssueCode.RURAL_ROUTE: "a rural-route or highway-contract box is a mail route, not a "
                           "place 9-1-1 can find; enter the house number and road name "
                           "(the 9-1-1 address your county assigned)",
}

_HOUSE_NUMBER: Final = re.compile(r"0*(\d{1,8})(?: ?-? ?([A-Z]|1/2|1/4|3/4|½|¼|¾))?")
_CA_UNIT_CIVIC: Final = re.compile(
    r"(?:(?P<designator>[^\W\d_]+) +)?(?P<hash># *)?(?P<unit>[0-9A-Z]{1,6}) *(?P<sep>-| ) *"
    r"0*(?P<civic>\d{1,8})")
"""Canada Post's unit-civic form, cleaned: "10-24", "10 - 24", "APT 10 24", "#10-24",
"SUITE 10-24". Without a designator or '#' the hyphen is required ("10 24" says nothing)."""
_UNIT_CIVIC_DESIGNATORS: Final = frozenset(
    word for word, code in SECONDARY_UNITS.items()
    if code not in {"FL", "RM", "BLDG", "BSMT", "FRNT", "LBBY", "LOWR", "REAR", "SIDE", "UPPR"})
"""Designators that name a unit with an identifier (APT, SUITE, UNIT, APP, BUREAU...): a
floor, room or building is not what Canada Post writes before the civic number."""
_FRACTIONS: Final[dict[str, str]] = {"½": "1/2", "¼": "1/4", "¾": "3/4"}


@dataclass(frozen=True, slots=True)
class _HouseNumber:
    number: int
    suffix: str
    unit: str = ""
    """The unit of a unit-civic number, with its designator: "UNIT 10", "APT 10", "# 10"."""

    def label(self) -> str:
        return f"{self.number} {self.suffix}" if self.suffix else str(self.number)


@dataclass(frozen=True, slots=True)
class _UnitCivic:
    unit: str
    civic: int


def _read_unit_civic(text: str) -> _UnitCivic | None:
    """A cleaned "10-24" / "APT 10 24" as unit "UNIT 10" / "APT 10" at civic number 24."""
    match = _CA_UNIT_CIVIC.fullmatch(text)
    if match is None:
        return None
    designator, hashed, unit = match.group("designator"), match.group("hash"), match.group(
        "unit")
    if designator is not None and designator not in _UNIT_CIVIC_DESIGNATORS:
        return None
    if designator is None and hashed is None and match.group("sep") != "-":
        return None
    if designator is not None:
        label = f"{SECONDARY_UNITS[designator]} {unit}"
    else:
        label = f"# {unit}" if hashed is not None else f"UNIT {unit}"
    return _UnitCivic(label, int(match.group("civic")))


def _unit_civic_from_street(raw: AddressInput) -> AddressInput | None:
    """Canada: an empty house_number and a street line that starts with the unit-civic form
    ("10-24 Sussex Dr", "Apt 10 24 Sussex Dr") -> that form moved to house_number. A lone
    leading number is not moved: MSAG names may start with one ("71 RANCH RD")."""
    if raw.house_number.strip():
        return None
    tokens = _clean(raw.street).split()
    for size in range(1, min(4, len(tokens) - 1) + 1):
        if _read_unit_civic(" ".join(tokens[:size])) is not None:
            return replace(raw, house_number=" ".join(tokens[:size]),
                           street=" ".join(tokens[size:]))
    return None


def _check_house_number(raw: AddressInput, country: str,
                        issues: list[FieldIssue]) -> _HouseNumber | None:
    text = _clean(raw.house_number)
    if not text:
        hint = ""
        if re.match(r"\d", raw.street.strip()):
            hint = " (if the street field starts with it, move the number to house_number)"
        issues.append(FieldIssue(
            "house_number", IssueCode.MISSING_HOUSE_NUMBER,
            f"house_number is required: the number on the building{hint}"))
        return None
    match = _HOUSE_NUMBER.fullmatch(text)
    if match:
        suffix = match.group(2) or ""
        return _HouseNumber(int(match.group(1)), _FRACTIONS.get(suffix, suffix))
    unit_civic = _read_unit_civic(text) if country == "CA" else None
    if unit_civic:
        # Canada Post writes the unit first: "210-123 SUSSEX DR" is unit 210 at number 123
        # (Canada Post Addressing Guidelines, civic addresses with a unit).
        return _HouseNumber(unit_civic.civic, "", unit_civic.unit)
    issues.append(FieldIssue(
        "house_number", IssueCode.BAD_HOUSE_NUMBER,
        f"house_number {raw.house_number.strip()!r} is not a building number; use digits "
        "with at most a letter or 1/2 (\"12\", \"12A\", \"12 1/2\"); put apartment or suite "
        "in street2"))
    return None


# --- stage 4: Pub 28 street normalisation --------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreetReading:
    """One way to read the street line as (pre-directional, name, type, post-directional).

    `names` holds the Pub 28 name first, then spellings the MSAG may use instead (highway
    folding, "1" vs "1ST", "ST" vs "SAINT"); only the first counts as an exact match.
    """

    pre_dir: str
    names: tuple[str, ...]
    street_type: str
    post_dir: str

    def key(self, name: str) -> StreetKey:
        return (self.pre_dir, name, self.street_type, self.post_dir)

    def label(self) -> str:
        return _label((self.pre_dir, self.names[0], self.street_type, self.post_dir))


_HIGHWAY: Final = re.compile(
    r"(?:(?P<qual>US|U S|UNITED STATES|FEDERAL|STATE|ST|SR|S R|STATE ROUTE|COUNTY|CO|CR"
    r"|CNTY|INTERSTATE|I|[A-Z]{2}) ?-? ?)?"
    r"(?P<word>HIGHWAY|HWY|HIWAY|HWAY|HIGHWY|HIWY|HY|ROUTE|RTE|ROAD|RD)? ?-? ?"
    r"(?P<num>\d{1,4}[A-Z]?)"
)
_STATE_ROUTE_QUALIFIERS: Final = frozenset({"STATE", "ST", "SR", "S R", "STATE ROUTE"})
_COUNTY_QUALIFIERS: Final = frozenset({"COUNTY", "CO", "CR", "CNTY"})


def read_street(text: str, country: str, state: str) -> tuple[StreetReading, ...]:
    """All plausible readings of a street line, most likely first (Pub 28 sections 231-235).

    Several are kept because only the MSAG can tell "EAST ST" (a street named East) from
    "E ... ST"; the matcher takes the first reading the MSAG knows.
    """
    tokens = _clean(text).replace("#", " ").split()
    if not tokens:
        return ()
    readings: list[StreetReading] = []
    types = CA_STREET_TYPES if country == "CA" else US_STREET_TYPES
    highway = _read_highway(tokens, state)
    if highway is not None:
        readings.append(highway)
    if country == "CA":
        readings.extend(_read_type_first(tokens))
    post = DIRECTIONALS.get(tokens[-1], "") if len(tokens) > 1 else ""
    # Longest directional first ("SOUTH EAST" = SE), then one word ("S" + "EAST RD"), then none.
    for pre_len in (*_directional_prefixes(tokens), 0):
        pre = DIRECTIONALS[" ".join(tokens[:pre_len])] if pre_len else ""
        for take_post in (True, False):
            for take_type in (True, False):
                rest = tokens[pre_len:]
                post_dir = ""
                if take_post:
                    if not post or len(rest) < 2:
                        continue
                    post_dir, rest = post, rest[:-1]
                street_type = ""
                if take_type:
                    if len(rest) < 2 or rest[-1] not in types:
                        continue
                    street_type, rest = types[rest[-1]], rest[:-1]
                if rest:
                    readings.append(StreetReading(pre, _name_spellings(rest), street_type,
                                                  post_dir))
    unique: dict[tuple[str, tuple[str, ...], str, str], StreetReading] = {}
    for reading in readings:
        unique.setdefault((reading.pre_dir, reading.names, reading.street_type,
                           reading.post_dir), reading)
    return tuple(unique.values())


def _directional_prefixes(tokens: list[str]) -> tuple[int, ...]:
    """How many leading tokens can be a directional, longest first ("NORTH EAST" is two
    or one), leaving at least one token for the name."""
    found = []
    if len(tokens) > 2 and " ".join(tokens[:2]) in DIRECTIONALS:
        found.append(2)
    if len(tokens) > 1 and tokens[0] in DIRECTIONALS:
        found.append(1)
    return tuple(found)


def _name_spellings(tokens: Sequence[str]) -> tuple[str, ...]:
    words = [ORDINAL_WORDS.get(t, t) for t in tokens]
    name = " ".join(words)
    spellings = [name]
    if len(words) == 1 and words[0].isdigit():
        spellings.append(ordinal(int(words[0])))
    ordinal_match = re.fullmatch(r"(\d+)(?:ST|ND|RD|TH)", name)
    if ordinal_match:
        spellings.append(ordinal_match.group(1))
    if words[0] in ("ST", "SAINT") and len(words) > 1:
        other = "SAINT" if words[0] == "ST" else "ST"
        spellings.append(" ".join([other, *words[1:]]))
    if words[0] in ("MT", "MOUNT") and len(words) > 1:
        other = "MOUNT" if words[0] == "MT" else "MT"
        spellings.append(" ".join([other, *words[1:]]))
    if words[0] in ("FT", "FORT") and len(words) > 1:
        other = "FORT" if words[0] == "FT" else "FT"
        spellings.append(" ".join([other, *words[1:]]))
    return tuple(dict.fromkeys(spellings))


def _read_highway(tokens: list[str], state: str) -> StreetReading | None:
    """ "Highway 89", "US Hwy 89", "US-89", "State Route 294", "MT 294" -> names the MSAG
    folds them into ("US HWY 89", "STATE HWY 294"), first the one the input says."""
    pre_len = next(iter(_directional_prefixes(tokens)), 0)
    pre = DIRECTIONALS[" ".join(tokens[:pre_len])] if pre_len else ""
    rest = tokens[pre_len:]
    post = ""
    if len(rest) > 1 and rest[-1] in DIRECTIONALS:
        post, rest = DIRECTIONALS[rest[-1]], rest[:-1]
    text = " ".join(rest)
    state_name = US_STATES.get(state, "")
    if state_name and text.startswith(state_name + " "):
        text = state + text[len(state_name):]  # "MONTANA HIGHWAY 294" -> "MT HIGHWAY 294"
    match = _HIGHWAY.fullmatch(text)
    if match is None:
        return None
    qual, word, num = match.group("qual") or "", match.group("word") or "", match.group("num")
    if word in ("ROAD", "RD") and qual not in _COUNTY_QUALIFIERS:
        return None  # "1 RD" is a road named 1, not a highway
    if word in ("ROUTE", "RTE") and not qual:
        qual = "STATE"
    if not word and not qual:
        return None
    if qual in ("US", "U S", "UNITED STATES", "FEDERAL"):
        names = [f"US HWY {num}"]
    elif qual in _STATE_ROUTE_QUALIFIERS or qual == state:
        names = [f"STATE HWY {num}", f"{state} HWY {num}", f"HWY {num}", f"STATE ROUTE {num}",
                 f"SR {num}"]
    elif qual in _COUNTY_QUALIFIERS:
        names = [f"COUNTY RD {num}", f"COUNTY HWY {num}", f"CR {num}", f"CO RD {num}"]
    elif qual in ("INTERSTATE", "I"):
        names = [f"I- {num}", f"I-{num}", f"I {num}", f"INTERSTATE {num}"]
    elif not qual and word in HIGHWAY_WORDS:
        names = [f"HWY {num}", f"US HWY {num}", f"STATE HWY {num}", f"{state} HWY {num}"]
    else:
        return None
    return StreetReading(pre, tuple(dict.fromkeys(names)), "", post)


def _read_type_first(tokens: list[str]) -> list[StreetReading]:
    """Canada Post: French street types come before the name ("RUE LAURIER", "CHEMIN
    D'AYLMER"), and a French directional may follow ("RUE SHERBROOKE OUEST")."""
    first = CA_STREET_TYPES.get(tokens[0], "")
    if first not in CA_TYPE_FIRST or len(tokens) < 2:
        return []
    rest = tokens[1:]
    post = ""
    if len(rest) > 1 and rest[-1] in DIRECTIONALS:
        post, rest = DIRECTIONALS[rest[-1]], rest[:-1]
    return [StreetReading("", _name_spellings(rest), first, post)]


def _label(key: StreetKey) -> str:
    return " ".join(part for part in key if part)


# --- stage 5: MSAG community, street, range ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hit:
    community: CommunityKey
    street: StreetKey


def _find_communities(raw: AddressInput, f: _Fields, index: MsagIndex,
                      issues: list[FieldIssue],
                      warnings: list[FieldIssue]) -> tuple[tuple[CommunityKey, ...], str]:
    """MSAG communities the city stands for, and the postal community name it was given as."""
    city = _clean(raw.city)
    by_zip = tuple(c for c in index.communities_for_zip(f.country, f.zip_key)
                   if c[1] == f.state) if f.zip_key else ()
    if not city:
        if by_zip:
            names = sorted({c[2] for c in by_zip})
            warnings.append(FieldIssue(
                "city", IssueCode.CITY_FROM_POSTAL_CODE,
                f"city was empty; taken from postal code {f.postal_code}: "
                f"{' or '.join(names)}", tuple(names)))
            return by_zip, ""
        issues.append(FieldIssue("city", IssueCode.REQUIRED,
                                 "city is required (the city or town of the address)"))
        return (), ""
    for spelling in _city_spellings(city):
        found = index.communities_for(f.country, f.state, spelling)
        if found:
            return tuple((f.country, f.state, name) for name in found), spelling
    fuzzy = index.fuzzy_communities(f.country, f.state, city)
    zip_names = {c[2] for c in by_zip}
    close = [name for name, _ in fuzzy if fuzz.ratio(city, name) >= 85]
    if len(close) == 1 and zip_names:
        # A near spelling is taken only when the postal code points at the same community
        # ("WHITE SULFUR SPRINGS" with 59645); two close names are for the user to choose.
        target = set(index.communities_for(f.country, f.state, close[0]))
        if target and target <= zip_names:
            warnings.append(FieldIssue(
                "city", IssueCode.CITY_CORRECTED,
                f"city {raw.city.strip()!r} read as {close[0]} (the MSAG spelling for "
                f"postal code {f.postal_code})", (close[0],)))
            return tuple((f.country, f.state, name) for name in sorted(target)), close[0]
    suggestions = list(dict.fromkeys([name for name, _ in fuzzy] + sorted(zip_names)))
    issues.append(FieldIssue(
        "city", IssueCode.UNKNOWN_COMMUNITY,
        f"city {raw.city.strip()!r} is not a community in the MSAG for {f.state}; check the "
        "spelling" + (" (did you mean one of the suggestions?)" if suggestions else ""),
        tuple(suggestions[:5])))
    return (), ""


def _city_spellings(city: str) -> tuple[str, ...]:
    spellings = [city]
    for short, full in (("ST", "SAINT"), ("STE", "SAINTE"), ("MT", "MOUNT"), ("FT", "FORT")):
        if city.startswith(short + " "):
            spellings.append(full + city[len(short):])
        elif city.startswith(full + " "):
            spellings.append(short + city[len(full):])
    return tuple(spellings)


def _exact_hits(readings: Iterable[StreetReading], communities: Sequence[CommunityKey],
                index: MsagIndex, *, alternates: bool) -> list[_Hit]:
    """Streets whose (pre, name, type, post) equal a reading; with `alternates`, the
    alternative spellings instead of the first. The first reading with any hit wins."""
    for reading in readings:
        names = reading.names[1:] if alternates else reading.names[:1]
        hits = [_Hit(c, reading.key(name)) for name in names for c in communities
                if reading.key(name) in index.streets.get(c, {})]
        if hits:
            return hits
    return []


def _loose_hits(readings: Iterable[StreetReading], communities: Sequence[CommunityKey],
                index: MsagIndex) -> list[_Hit]:
    """Streets of the same name where the user left out the directional or type, or put
    the directional on the other side ("LARAMIE ST E" for "E LARAMIE ST")."""
    for reading in readings:
        given = reading.pre_dir or reading.post_dir
        hits = []
        for name in reading.names:
            for c in communities:
                for key in index.street_keys(c, name):
                    pre, _, street_type, post = key
                    if reading.street_type and street_type != reading.street_type:
                        continue
                    if reading.pre_dir and reading.post_dir:
                        ok = (pre, post) == (reading.pre_dir, reading.post_dir)
                    elif given:
                        ok = given in (pre, post) and not (pre and post)
                    else:
                        ok = True
                    if ok:
                        hits.append(_Hit(c, key))
        if hits:
            return list(dict.fromkeys(hits))
    return []


def _range_text(rows: Sequence[MsagRow]) -> str:
    return ", ".join(r.range_label() for r in rows)


@dataclass(frozen=True, slots=True)
class _StreetMatch:
    hit: _Hit
    covering: tuple[MsagRow, ...]
    moved_to_street2: str = ""
    """A unit found at the end of the street line ("E Laramie St Apt 4" -> "Apt 4")."""


@dataclass(frozen=True, slots=True)
class _SplitLine:
    street: str
    moved: str
    """What goes to street2 ("" if only the house number was dropped)."""
    dropped_number: bool


def _split_street_line(street: str, house_number: str) -> _SplitLine | None:
    """The street line with a repeated house number dropped from its start and a secondary
    unit cut from its end ("301 E Laramie St Apt 4" -> "E Laramie St" + "Apt 4"); None if
    there is neither. Only tried when the line as typed is not in the MSAG, because some
    names start with a number ("71 RANCH RD") or contain a designator word."""
    tokens = street.split()
    dropped = len(tokens) > 1 and bool(house_number) and _clean(tokens[0]) == _clean(
        house_number)
    if dropped:
        tokens = tokens[1:]
    moved = ""
    for i in range(1, len(tokens)):
        word = tokens[i].upper().rstrip(".")
        if (word.startswith("#") and len(word) > 1) or (
                SECONDARY_UNITS.get(word) and i + 1 < len(tokens)
                and any(ch.isdigit() for ch in tokens[i + 1])):
            moved, tokens = " ".join(tokens[i:]), tokens[:i]
            break
    if not (dropped or moved) or not tokens:
        return None
    return _SplitLine(" ".join(tokens), moved, dropped)


def _match_street(raw: AddressInput, f: _Fields, house: _HouseNumber,
                  communities: tuple[CommunityKey, ...], index: MsagIndex,
                  issues: list[FieldIssue], warnings: list[FieldIssue]) -> _StreetMatch | None:
    readings = read_street(raw.street, f.country, f.state)
    if not readings:
        issues.append(FieldIssue("street", IssueCode.REQUIRED,
                                 "street is required: the street name, e.g. \"E Laramie St\""))
        return None
    number = house.number
    hits, completed = _street_hits(readings, communities, index)
    moved = ""
    split = _split_street_line(raw.street, raw.house_number) if not hits else None
    if split is not None:
        split_readings = read_street(split.street, f.country, f.state)
        hits, completed = _street_hits(split_readings, communities, index)
        if hits:
            readings, moved = split_readings, split.moved
            parts = ["the house number"] if split.dropped_number else []
            parts += [f"{moved!r} (moved to street2)"] if moved else []
            what = " and ".join(parts)
            warnings.append(FieldIssue(
                "street", IssueCode.STREET_SPLIT,
                f"street held more than the street name: {what} taken out of it",
                (split.street,)))
    if not hits:
        _street_not_found(raw, f, number, readings, communities, index, issues)
        return None
    covering = [(hit, index.covering(hit.community, hit.street, number)) for hit in hits]
    covering = [(hit, rows) for hit, rows in covering if rows]
    if len(covering) == 1:
        hit, rows = covering[0]
        if completed:
            warnings.append(FieldIssue(
                "street", IssueCode.STREET_COMPLETED,
                f"street {raw.street.strip()!r} is {_label(hit.street)} in the MSAG; check "
                "that this is the street", (_label(hit.street),)))
        return _StreetMatch(hit, rows, moved)
    if len(covering) > 1:
        _ambiguous(raw, number, [hit for hit, _ in covering], issues)
        return None
    others = [h for h in _loose_hits(readings, communities, index)
              if h not in hits and index.covering(h.community, h.street, number)]
    _out_of_range(number, hits, others, index, issues)
    return None


def _street_hits(readings: Sequence[StreetReading], communities: Sequence[CommunityKey],
                 index: MsagIndex) -> tuple[list[_Hit], bool]:
    """Streets the readings name, and whether they were completed (not an exact match)."""
    exact = _exact_hits(readings, communities, index, alternates=False)
    if exact:
        return exact, False
    hits = (_exact_hits(readings, communities, index, alternates=True)
            or _loose_hits(readings, communities, index))
    return hits, bool(hits)


def _ambiguous(raw: AddressInput, number: int, hits: Sequence[_Hit],
               issues: list[FieldIssue]) -> None:
    streets = sorted({_label(h.street) for h in hits})
    communities = sorted({h.community[2] for h in hits})
    if len(streets) == 1 and len(communities) > 1:
        issues.append(FieldIssue(
            "city", IssueCode.AMBIGUOUS_COMMUNITY,
            f"{number} {streets[0]} exists in more than one MSAG community "
            f"({', '.join(communities)}); enter the community as the city",
            tuple(communities)))
        return
    issues.append(FieldIssue(
        "street", IssueCode.AMBIGUOUS_STREET,
        f"{number} {raw.street.strip()!r} matches {len(streets)} streets: "
        f"{'; '.join(f'{number} {s}' for s in streets)}; add the directional or street type "
        "to say which", tuple(streets)))


def _out_of_range(number: int, hits: Sequence[_Hit], others: Sequence[_Hit],
                  index: MsagIndex, issues: list[FieldIssue]) -> None:
    """No range covers the number. `others` are same-name streets (other directional or
    type) that do have it: offered as suggestions, never taken."""
    side = "odd" if number % 2 else "even"
    lines: list[str] = []
    wrong_side = False
    for hit in hits:
        rows = index.ranges(hit.community, hit.street)
        lines.append(f"{_label(hit.street)}: {_range_text(rows)}")
        wrong_side = wrong_side or any(r.low <= number <= r.high for r in rows)
    elsewhere = sorted({f"{number} {_label(h.street)}" for h in others})
    also = f"; {' and '.join(elsewhere)} exist{'s' if len(elsewhere) == 1 else ''}" \
        if elsewhere else ""
    if wrong_side:
        issues.append(FieldIssue(
            "house_number", IssueCode.HOUSE_NUMBER_WRONG_PARITY,
            f"{number} is {side}, and the {side} side of the street has no such number in the "
            f"MSAG; check the house number (valid ranges: {'; '.join(lines)}){also}",
            (*lines, *elsewhere)))
        return
    issues.append(FieldIssue(
        "house_number", IssueCode.HOUSE_NUMBER_OUT_OF_RANGE,
        f"{number} is outside the MSAG ranges for this street; check the house number "
        f"(valid ranges: {'; '.join(lines)}){also}", (*lines, *elsewhere)))


def _street_not_found(raw: AddressInput, f: _Fields, number: int,
                      readings: Sequence[StreetReading],
                      communities: Sequence[CommunityKey], index: MsagIndex,
                      issues: list[FieldIssue]) -> None:
    """No street of that name: say whether it exists in another community of the state,
    else offer the closest names (never pick one: "LARAMEE" could be LARAMIE or LARIME)."""
    elsewhere = sorted({
        c[2] for r in readings
        for c in index.communities_with_street(f.country, f.state, r.names[0])
        if c not in communities and r.key(r.names[0]) in index.streets.get(c, {})
    })
    if elsewhere:
        issues.append(FieldIssue(
            "city", IssueCode.STREET_IN_OTHER_COMMUNITY,
            f"{readings[0].label()} is not in {' / '.join(c[2] for c in communities)} but is "
            f"in {', '.join(elsewhere)} in the MSAG; enter that community as the city",
            tuple(elsewhere)))
        return
    scored: dict[str, float] = {}
    covering_labels: set[str] = set()
    searched: set[str] = set()
    for reading in readings[:3]:
        # The first (greedy) reading usually finds the candidates; later readings only add
        # names with the directional or type glued on, so stop once something close is found.
        if reading.names[0] in searched or any(v >= 80 for v in scored.values()):
            continue
        searched.add(reading.names[0])
        for c in communities:
            for name, score in index.fuzzy_street_names(c, reading.names[0]):
                for key in index.street_keys(c, name):
                    label = _label(key)
                    scored[label] = max(scored.get(label, 0.0), score + _shape_bonus(
                        reading, key))
                    if index.covering(c, key, number):
                        covering_labels.add(label)
    ranked = sorted(scored, key=lambda s: (s not in covering_labels, -scored[s], s))
    issues.append(FieldIssue(
        "street", IssueCode.UNKNOWN_STREET,
        f"street {raw.street.strip()!r} is not in the MSAG for "
        f"{' / '.join(c[2] for c in communities)}; check the spelling"
        + (" or pick one of the suggestions" if ranked else ""),
        tuple(ranked[:5])))


def _shape_bonus(reading: StreetReading, key: StreetKey) -> float:
    """Prefer suggestions whose directional and type agree with what the user typed."""
    bonus = 0.0
    if reading.street_type and reading.street_type == key[2]:
        bonus += 1.0
    if reading.pre_dir and reading.pre_dir == key[0]:
        bonus += 1.0
    if reading.post_dir and reading.post_dir == key[3]:
        bonus += 1.0
    return bonus


# --- stage 6: ESN -------------------------------------------------------------------------


def _msag_match(resolution: EsnResolution, warnings: list[FieldIssue],
                f: _Fields) -> MsagMatch:
    covering = resolution.covering
    first = covering[0]
    counties = {r.county for r in covering}
    county = first.county if len(counties) == 1 else ""
    row = resolution.row
    if row is not None:
        if resolution.resolved_by == "zip":
            others = sorted({r.esn for r in covering} - {row.esn})
            warnings.append(FieldIssue(
                "postal_code", IssueCode.ESN_RESOLVED_BY_POSTAL_CODE,
                f"the MSAG has overlapping ranges here with ESNs {row.esn} and "
                f"{', '.join(others)}; postal code {f.postal_code} matches only the row with "
                f"ESN {row.esn} ({row.msag_id}), so that ESN is used"))
        return MsagMatch(row.msag_id, row.esn, row.msag_community, county, row.psap_id,
                         row.low, row.high, row.parity, resolution.resolved_by)
    candidates = tuple(EsnCandidate(r.msag_id, r.esn, r.psap_id, r.zip, r.line)
                       for r in sorted(covering, key=lambda r: r.line))
    low = max(r.low for r in covering)
    high = min(r.high for r in covering)
    parities = {r.parity for r in covering} - {"B"}
    parity = parities.pop() if len(parities) == 1 else "B"
    warnings.append(FieldIssue(
        "street", IssueCode.ESN_CONFLICT,
        "the MSAG gives this address more than one ESN (overlapping ranges "
        + ", ".join(f"{c.msag_id} ESN {c.esn}" for c in candidates)
        + "); the address is accepted without an ESN and the conflict must be fixed in the "
        "MSAG by the 9-1-1 authority",
        tuple(f"ESN {c.esn} ({c.msag_id})" for c in candidates)))
    return MsagMatch("", "", first.msag_community, county, "", low, high, parity, "",
                     candidates)


# --- stage 7: street2 ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Secondary:
    """street2 split the USPS way (Pub 28 section 213, Appendix C2) into PIDF-LO fields."""

    unit: str = ""
    floor: str = ""
    room: str = ""
    building: str = ""
    location_info: str = ""


_NO_ID_UNITS: Final = frozenset({"BSMT", "FRNT", "LBBY", "LOWR", "OFC", "PH", "REAR", "SIDE",
                                 "UPPR"})
"""Pub 28 C2 designators that need no number ("REAR", "BSMT")."""
_IDENT: Final = re.compile(r"[0-9A-Z][0-9A-Z-]{0,9}")
_FLOOR_ORDINAL: Final = re.compile(r"(\d{1,3})(?:ST|ND|RD|TH)?")


def _is_identifier(token: str, designator: str) -> bool:
    """ "210", "4B", "C": a unit identifier. A word is not ("Rear door", "Building
    entrance"); designators that need no number take one only if it has a digit."""
    if not token or not _IDENT.fullmatch(token):
        return False
    has_digit = any(ch.isdigit() for ch in token)
    return has_digit or (len(token) <= 2 and designator not in _NO_ID_UNITS)


def parse_street2(text: str) -> Secondary:
    """ "Suite 210" -> unit "STE 210"; "Floor 2" and "2nd Floor" -> floor "2"; "Room 5" ->
    room "5"; "Building 3" -> building "3"; words that are none of these -> location_info
    (kept as typed)."""
    original = [t for t in re.split(r"[\s,]+", unicodedata.normalize("NFC", text).strip())
                if t]
    tokens = [t.upper().rstrip(".") for t in original]
    fields_: dict[str, str] = {}
    leftover: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token.startswith("#") and len(token) > 1 and "unit" not in fields_:
            fields_["unit"] = f"# {token[1:]}"
            i += 1
            continue
        designator = SECONDARY_UNITS.get(token)
        floor_first = _FLOOR_ORDINAL.fullmatch(token)
        if floor_first and SECONDARY_UNITS.get(nxt) == "FL" and "floor" not in fields_:
            fields_["floor"] = floor_first.group(1)
            i += 2
            continue
        if designator and _is_identifier(nxt.lstrip("#"), designator):
            ident = nxt.lstrip("#")
            slot = {"FL": "floor", "RM": "room", "BLDG": "building"}.get(designator, "unit")
            if slot not in fields_:
                if slot == "floor":
                    floor = _FLOOR_ORDINAL.fullmatch(ident)
                    ident = floor.group(1) if floor else ident
                fields_[slot] = f"{designator} {ident}" if slot == "unit" else ident
                i += 2
                continue
        if designator in _NO_ID_UNITS and "unit" not in fields_:
            fields_["unit"] = designator
            i += 1
            continue
        leftover.append(original[i])
        i += 1
    return Secondary(
        unit=fields_.get("unit", ""), floor=fields_.get("floor", ""),
        room=fields_.get("room", ""), building=fields_.get("building", ""),
        location_info=" ".join(leftover))


# --- the pipeline ----------------------------------------------------------------------------


def validate_address(raw: AddressInput, index: MsagIndex) -> ValidationResult:
    """Validate one address against the MSAG index (pure; p50 about 0.2 ms, see
    docs/benchmarks.md).

    Every field's own problems (characters, required, format, mail-only, house number) are
    reported together; the MSAG stages run only once those are all clean, because they read
    several fields at a time.
    """
    errors = _check_characters(raw)
    refused = frozenset(e.field for e in errors)
    country = _COUNTRIES.get(_clean(raw.country), "")
    typed = raw
    if country == "CA" and "street" not in refused and "house_number" not in refused:
        raw = _unit_civic_from_street(raw) or raw
    warnings: list[FieldIssue] = []
    field_errors: list[FieldIssue] = []
    f = _check_fields(raw, field_errors)
    missing = _check_required(raw, f, field_errors)
    dispatchable = _check_dispatchable(raw, field_errors)
    house = _check_house_number(raw, country, field_errors) if dispatchable else None
    # A field refused for its characters is not judged again on content it cannot have.
    errors += [e for e in field_errors if e.field not in refused]
    if refused or missing or f is None or house is None or not dispatchable:
        return _invalid(errors, warnings)
    if not index.has_state(f.country, f.state):
        errors.append(FieldIssue(
            "state", IssueCode.NOT_IN_MSAG,
            f"the MSAG loaded here has no addresses in {f.country}-{f.state}; the operator "
            "must import the MSAG extract for it before addresses there can be validated"))
        return _invalid(errors, warnings)
    communities, postal_city = _find_communities(raw, f, index, errors, warnings)
    if not communities:
        return _invalid(errors, warnings)
    match = _match_street(raw, f, house, communities, index, errors, warnings)
    if match is None or errors:
        return _invalid(errors, warnings)
    resolution = resolve_esn(match.covering, f.zip_key)
    msag = _msag_match(resolution, warnings, f)
    row = resolution.row or match.covering[0]
    _similar_streets(match.hit, index, warnings)
    postal = _msag_postal_code(f, house, match, errors, warnings)
    if postal is None:
        return _invalid(errors, warnings)
    secondary = parse_street2(" ".join(p for p in (raw.street2.strip(), match.moved_to_street2)
                                       if p))
    unit = secondary.unit
    if house.unit:
        unit = unit or house.unit
        moved = raw is not typed
        warnings.append(FieldIssue(
            "street" if moved else "house_number", IssueCode.UNIT_FROM_HOUSE_NUMBER,
            f"{raw.house_number}{' at the start of street' if moved else ''} read as "
            f"{house.unit} at civic number {house.label()} (Canada Post's unit-civic form: "
            "the unit comes first)"))
    pre, name, street_type, post = match.hit.street
    civic = CivicAddress(
        country=f.country, state=f.state, street_name=name, house_number=str(house.number),
        city=match.hit.community[2], county=msag.county,
        house_number_suffix=house.suffix, prefix_directional=pre, street_suffix=street_type,
        post_directional=post, location_info=secondary.location_info, floor=secondary.floor,
        unit=unit, room=secondary.room, building=secondary.building,
        postal_code=postal[0], plus4=postal[1],
        postal_community=row.postal_community or postal_city,
    )
    return ValidationResult(ValidationStatus.VALID, civic, msag, (), tuple(warnings))


def _msag_postal_code(f: _Fields, house: _HouseNumber, match: _StreetMatch,
                      errors: list[FieldIssue],
                      warnings: list[FieldIssue]) -> tuple[str, str] | None:
    """The (postal_code, plus4) to store, or None (an error was added).

    The PIDF-LO's PC element (RFC 5139) goes to the PSAP, which may use it to check or plot
    the address, so it must not contradict the MSAG range the address validated in (the
    issue 18 finding: "250 E Main St, Prattville, AL 94105" kept San Francisco's ZIP). The
    MSAG decides, as it does for everything else in a 9-1-1 address: rows without a ZIP say
    nothing; a ZIP of any covering row is kept; otherwise one MSAG ZIP replaces the typed
    one (warning naming both), and several (an ESN conflict) or a Canadian FSA alone (no full
    postal code to put in its place) are refused with what the MSAG has."""
    known: dict[str, str] = {}
    for row in match.covering:
        if row.zip:
            known.setdefault(_postal_key(row.zip, f.country), row.zip)
    if not known or f.zip_key in known:
        return f.postal_code, f.plus4
    where = f"{house.label()} {_label(match.hit.street)} in {match.hit.community[2]}"
    what = "ZIP code" if f.country == "US" else "postal code"
    keys = tuple(sorted(known))
    if len(keys) == 1:
        corrected = _full_postal_code(known[keys[0]], f.country)
        if corrected:
            message = (f"postal code {f.postal_code} is not the MSAG's for {where}; the MSAG "
                       f"says {corrected}, so {corrected} is used")
            if f.plus4:
                message += (f"; the ZIP+4 add-on {f.plus4} was for {f.postal_code} and is "
                            "dropped")
            warnings.append(FieldIssue("postal_code", IssueCode.POSTAL_CODE_CORRECTED, message,
                                       (corrected,)))
            return corrected, ""
        errors.append(FieldIssue(
            "postal_code", IssueCode.POSTAL_CODE_NOT_IN_MSAG,
            f"postal code {f.postal_code} is not in the MSAG's area for {where} ({keys[0]}); "
            f"enter the address's {what}", keys))
        return None
    errors.append(FieldIssue(
        "postal_code", IssueCode.POSTAL_CODE_NOT_IN_MSAG,
        f"postal code {f.postal_code} is not one of the MSAG's for {where} "
        f"({', '.join(keys)}); enter the address's {what}", keys))
    return None


def _postal_key(value: str, country: str) -> str:
    """What an MSAG zip cell is compared on: the 5-digit ZIP, or the Canadian FSA (the
    extracts carry FSAs; a full code's last three characters are finer than a range)."""
    compact = value.replace(" ", "").replace("-", "").upper()
    return compact[:5] if country == "US" else compact[:3]


def _full_postal_code(value: str, country: str) -> str:
    """An MSAG zip cell as a postal code to store ("36067", "K1M 1M4"), or "" when the cell
    is not a whole one (a Canadian FSA, a malformed cell)."""
    text = _clean(value)
    if country == "US":
        match = _ZIP.fullmatch(text)
        return match.group(1) if match else ""
    match = _CA_POSTAL.fullmatch(text)
    return f"{match.group(1)} {match.group(2)}" if match else ""


def _similar_streets(hit: _Hit, index: MsagIndex, warnings: list[FieldIssue]) -> None:
    """Warn when a near-identical street name exists in the same community, because users
    and dispatchers confuse them (White Sulphur Springs has E LARAMIE ST and E LARIME ST)."""
    similar = index.similar_street_names(hit.community, hit.street[1])
    if not similar:
        return
    labels = sorted({_label(k) for name in similar for k in index.street_keys(hit.community,
                                                                               name)})
    warnings.append(FieldIssue(
        "street", IssueCode.SIMILAR_STREET,
        f"{' and '.join(labels)} also exist{'s' if len(labels) == 1 else ''} in "
        f"{hit.community[2]}; make sure {_label(hit.street)} is the right street",
        tuple(labels)))


def _invalid(errors: list[FieldIssue], warnings: list[FieldIssue]) -> ValidationResult:
    return ValidationResult(ValidationStatus.INVALID, None, None, tuple(errors),
                            tuple(warnings))


__all__ = [
    "EsnCandidate", "FieldError", "FieldIssue", "FieldWarning", "IssueCode", "MsagMatch",
    "Secondary", "StreetReading", "ValidationResult", "ValidationStatus",
    "parse_street2", "read_street", "validate_address",
]
