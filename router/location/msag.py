"""The MSAG extract: parsing the operator's CSV and indexing it for address validation.

The Master Street Address Guide is the 9-1-1 authority's list of valid street ranges, each
with the Emergency Service Number (ESN) that selects the PSAP. The CSV layout is
`config/msag/FORMAT.md`. This module is pure: `parse_msag_csv` takes text (or reads one file)
and returns a frozen `MsagImport`; the store persists its rows; `MsagIndex` answers "which
rows cover this house number on this street" from memory in microseconds.

ESN conflicts. Real extracts contain overlapping ranges on the same street that carry
different ESNs (legacy ALI fallout "M"). The street range alone then cannot say which PSAP
serves the address, so `resolve_esn` never picks one at random: it resolves only when the
ZIP matches exactly one of the rows (and says so), and otherwise reports the conflict with
every candidate. See docs/address-validation.md.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import ClassVar, Final

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from router.location.usps import CA_PROVINCES, DIRECTIONAL_CODES, US_STATES

COLUMNS: Final[tuple[str, ...]] = (
    "msag_id", "country", "state", "county", "msag_community", "postal_community", "zip",
    "pre_dir", "street_name", "street_type", "post_dir", "low", "high", "parity", "esn",
    "exchange", "psap_id", "effective_date", "expire_date", "source", "source_ids",
)
"""The columns of FORMAT.md, in order, and `source_ids` (the shipped extracts' TIGER edge ids,
kept for provenance)."""

REQUIRED_COLUMNS: Final[tuple[str, ...]] = (
    "msag_id", "country", "state", "msag_community", "street_name", "low", "high", "parity",
    "esn",
)
"""Columns that must be in the header and non-empty on every row."""

PARITIES: Final[frozenset[str]] = frozenset({"O", "E", "B"})
COUNTRIES: Final[frozenset[str]] = frozenset({"US", "CA"})
MAX_HOUSE_NUMBER: Final[int] = 99_999_999
"""Upper bound on a range end; anything larger is a data error, not a house number."""


@dataclass(frozen=True, slots=True)
class MsagRow:
    """One MSAG range: a side (odd/even/both) of a street between two house numbers."""

    msag_id: str = ""
    country: str = ""
    state: str = ""
    county: str = ""
    msag_community: str = ""
    postal_community: str = ""
    zip: str = ""
    pre_dir: str = ""
    street_name: str = ""
    street_type: str = ""
    post_dir: str = ""
    low: int = 0
    high: int = 0
    parity: str = ""
    """O (odd numbers), E (even numbers) or B (both)."""
    esn: str = ""
    exchange: str = ""
    psap_id: str = ""
    effective_date: str = ""
    expire_date: str = ""
    source: str = ""
    source_ids: str = ""
    """Optional: ids of the source records the row was made from ("TLID166709406R ...")."""
    line: int = 0
    """Line of the CSV file the row starts on (1 is the header); 0 if not from a file."""

    @property
    def community_key(self) -> CommunityKey:
        return (self.country, self.state, self.msag_community)

    @property
    def street_key(self) -> StreetKey:
        return (self.pre_dir, self.street_name, self.street_type, self.post_dir)

    def street_label(self) -> str:
        """ "E LARAMIE ST", "MAIN ST W", "US HWY 89"."""
        parts = (self.pre_dir, self.street_name, self.street_type, self.post_dir)
        return " ".join(p for p in parts if p)

    def covers(self, number: int) -> bool:
        """Whether the house number is inside the range on the right side."""
        return self.low <= number <= self.high and parity_allows(self.parity, number)

    def range_label(self) -> str:
        """ "301-799 odd"."""
        side = {"O": "odd", "E": "even", "B": "odd and even"}.get(self.parity, self.parity)
        return f"{self.low}-{self.high} {side}"


CommunityKey = tuple[str, str, str]
"""(country, state, msag_community)."""
StreetKey = tuple[str, str, str, str]
"""(pre_dir, street_name, street_type, post_dir)."""


def parity_allows(parity: str, number: int) -> bool:
    if parity == "B":
        return True
    return (number % 2 == 1) if parity == "O" else (number % 2 == 0 and parity == "E")


@dataclass(frozen=True, slots=True)
class MsagIssue:
    """A problem with one line of the file; `code` is stable, `message` says what to fix."""

    line: int
    code: str
    message: str
    column: str = ""
    msag_id: str = ""
    file: str = ""
    """Set when several files are imported together (`parse_msag_files`)."""

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        where = f"{self.file} {where}" if self.file else where
        return f"{where}: {self.message} [{self.code}]"


@dataclass(frozen=True, slots=True)
class MsagOverlap:
    """Two rows whose ranges share house numbers on the same street but differ in ESN."""

    first: MsagRow
    second: MsagRow
    low: int
    """First house number both rows cover."""
    high: int
    """Last house number both rows cover."""

    def __str__(self) -> str:
        return (
            f"lines {self.first.line} and {self.second.line}: {self.first.street_label()} "
            f"({self.first.msag_community}) {self.low}-{self.high} is in ESN "
            f"{self.first.esn} ({self.first.msag_id}) and ESN {self.second.esn} "
            f"({self.second.msag_id})"
        )


@dataclass(frozen=True, slots=True)
class MsagImport:
    """The outcome of parsing one extract. Persist only when `ok`."""

    rows: tuple[MsagRow, ...]
    errors: tuple[MsagIssue, ...]
    overlaps: tuple[MsagOverlap, ...]
    source_name: str = ""
    """File name (or "<text>") for reports and the store's import record."""
    sha256: str = ""
    """Digest of the file's bytes, so the store can record which extract is in force."""
    ignored_columns: tuple[str, ...] = ()
    """Header columns not in FORMAT.md (kept out of the rows, reported)."""

    @property
    def ok(self) -> bool:
        """No errors and at least one row: an extract with no rows would leave nothing to
        validate against (the parser reports it as `no_rows`; an `MsagImport` built by hand
        with no rows is refused by `Store.replace_msag` all the same)."""
        return not self.errors and bool(self.rows)

    def report_lines(self) -> list[str]:
        """Human-readable report: one line per error and per overlap."""
        lines = [f"{self.source_name}: {len(self.rows)} rows, {len(self.errors)} errors, "
                 f"{len(self.overlaps)} ESN overlaps"]
        if self.ignored_columns:
            lines.append(f"ignored columns: {', '.join(self.ignored_columns)}")
        lines += [f"error: {issue}" for issue in self.errors]
        lines += [f"warning: ESN overlap, {overlap}" for overlap in self.overlaps]
        return lines


def parse_msag_csv(path_or_text: str | Path, *, source_name: str = "") -> MsagImport:
    """Parse an MSAG CSV (FORMAT.md). A `Path`, or a `str` with no newline, is a file to
    read; any other `str` is the CSV text itself.

    Every problem is collected (not just the first) so one report fixes the whole file.
    """
    if isinstance(path_or_text, Path) or "\n" not in path_or_text:
        path = Path(path_or_text)
        data = path.read_bytes()
        name = source_name or path.name
    else:
        data = path_or_text.encode("utf-8")
        name = source_name or "<text>"
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        issue = MsagIssue(line=data[: exc.start].count(b"\n") + 1, code="bad_encoding",
                          message=f"not UTF-8 (byte {exc.start}); save the file as UTF-8")
        return MsagImport(rows=(), errors=(issue,), overlaps=(), source_name=name,
                          sha256=digest)
    rows, errors, ignored = _parse_text(text, name)
    overlaps = find_overlaps(rows)
    return MsagImport(rows=tuple(rows), errors=tuple(errors), overlaps=overlaps,
                      source_name=name, sha256=digest, ignored_columns=ignored)


def parse_msag_files(paths: Sequence[Path]) -> MsagImport:
    """Parse several extracts (one per state or province, say) as one import: the store
    replaces the whole MSAG at once. An msag_id used in two files is an error; ESN overlaps
    are looked for across all rows."""
    parts = [parse_msag_csv(Path(p)) for p in paths]
    if len(parts) == 1:
        return parts[0]
    errors = [replace(e, file=part.source_name) for part in parts for e in part.errors]
    rows: list[MsagRow] = []
    first_seen: dict[str, tuple[str, int]] = {}
    for part in parts:
        for row in part.rows:
            seen = first_seen.get(row.msag_id)
            if seen is not None:
                errors.append(MsagIssue(
                    row.line, "duplicate_msag_id",
                    f"msag_id {row.msag_id!r} already used in {seen[0]} line {seen[1]}",
                    column="msag_id", msag_id=row.msag_id, file=part.source_name))
                continue
            first_seen[row.msag_id] = (part.source_name, row.line)
            rows.append(row)
    digest = hashlib.sha256("".join(p.sha256 for p in parts).encode()).hexdigest()
    return MsagImport(
        rows=tuple(rows), errors=tuple(errors), overlaps=find_overlaps(rows),
        source_name=" + ".join(p.source_name for p in parts), sha256=digest,
        ignored_columns=tuple(dict.fromkeys(c for p in parts for c in p.ignored_columns)))


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line each starts on (quoted fields may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _CsvSyntaxError(reader.line_num, str(exc)) from exc
        yield start, record
        start = reader.line_num + 1


class _CsvSyntaxError(Exception):
    def __init__(self, line: int, detail: str) -> None:
        super().__init__(detail)
        self.line = line
        self.detail = detail


_FORBIDDEN_IN_CELL: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff]"
)
"""Characters no MSAG value contains: C0 and C1 controls (NUL truncates C strings and
PostgreSQL refuses it in text) and the invisible or bidirectional formatting characters the
address validator refuses too (docs/address-validation.md, stage 1), which would make a
stored street display differently from what it is. Tab, CR and LF are CSV's own (a quoted
cell may span lines) and become single spaces like any other run of whitespace."""

_CHAR_NAMES: Final[dict[str, str]] = {"\x00": "NUL", "\x1b": "ESC"}


def _forbidden_cell(line: int, record: Sequence[str], names: Sequence[str] | None
                    ) -> MsagIssue | None:
    """The first cell of `record` holding a forbidden character, as an issue (or None);
    `names` are the header's column names, None when `record` is the header itself."""
    for position, cell in enumerate(record):
        bad = _FORBIDDEN_IN_CELL.search(cell)
        if bad is None:
            continue
        char = bad.group()
        label = _CHAR_NAMES.get(char, f"U+{ord(char):04X}")
        column = names[position] if names is not None and position < len(names) else ""
        where = ("the header row " if names is None
                 else f"{column} " if column else f"field {position + 1} ")
        return MsagIssue(line, "forbidden_character",
                         f"{where}contains {label}, a control or formatting character no "
                         "MSAG value has; fix the export (is the file binary or "
                         "truncated?)", column=column)
    return None


def _parse_text(text: str, name: str
                ) -> tuple[list[MsagRow], list[MsagIssue], tuple[str, ...]]:
    errors: list[MsagIssue] = []
    rows: list[MsagRow] = []
    records = _records(text)
    try:
        header_line, header = next(records, (1, []))
        header_issue = _forbidden_cell(header_line, header, None)
        if header_issue is not None:
            return [], [header_issue], ()
        header = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if not header:
            return [], [MsagIssue(1, "missing_header", "the file is empty; the first line "
                                  "must be the header row of FORMAT.md")], ()
        if missing:
            return [], [MsagIssue(header_line, "missing_column",
                                  f"header lacks required column {c!r}", column=c)
                        for c in missing], ()
        duplicated = sorted({h for h in header if header.count(h) > 1})
        if duplicated:
            return [], [MsagIssue(header_line, "duplicate_column",
                                  f"column {c!r} appears twice in the header", column=c)
                        for c in duplicated], ()
        ignored = tuple(h for h in header if h not in COLUMNS)
        positions = {name: header.index(name) for name in COLUMNS if name in header}
        seen_ids: dict[str, int] = {}
        data_records = 0
        for line, record in records:
            forbidden = _forbidden_cell(line, record, header)
            if forbidden is not None:
                data_records += 1
                errors.append(forbidden)
                continue
            if not record or all(not cell.strip() for cell in record):
                continue
            data_records += 1
            if len(record) != len(header):
                errors.append(MsagIssue(line, "bad_field_count",
                                        f"{len(record)} fields, header has {len(header)}"))
                continue
            values = {name: " ".join(record[pos].split()) for name, pos in positions.items()}
            row, row_errors = _row(line, values)
            if row is not None and row.msag_id in seen_ids:
                row_errors.append(MsagIssue(
                    line, "duplicate_msag_id",
                    f"msag_id {row.msag_id!r} already used on line {seen_ids[row.msag_id]}",
                    column="msag_id", msag_id=row.msag_id))
            if row is not None:
                seen_ids.setdefault(row.msag_id, line)
            errors.extend(row_errors)
            if row is not None and not row_errors:
                rows.append(row)
        if not data_records:
            # A header alone would replace the MSAG with nothing: every address would then
            # fail `not_in_msag` and no new 911 location could be saved.
            errors.append(MsagIssue(header_line + 1, "no_rows",
                                    f"{name} has a header but no data rows; an import would "
                                    "leave no MSAG to validate addresses against"))
    except _CsvSyntaxError as exc:
        errors.append(MsagIssue(exc.line, "bad_csv", f"CSV syntax error: {exc.detail}"))
        ignored = ()
    return rows, errors, ignored


_ESN: Final = re.compile(r"[0-9A-Z]{3,5}")
_ASCII_DIGITS: Final = re.compile(r"[0-9]+")
"""Not `str.isdigit()`, which takes "²" (then `int()` raises) and Arabic-Indic digits."""
_STATE: Final[Mapping[str, Mapping[str, str]]] = {"US": US_STATES, "CA": CA_PROVINCES}


def _row(line: int, values: dict[str, str]) -> tuple[MsagRow | None, list[MsagIssue]]:
    """Check one record; return the row (None if it cannot be built) and its problems."""
    errors: list[MsagIssue] = []
    msag_id = values.get("msag_id", "")

    def bad(code: str, column: str, message: str) -> None:
        errors.append(MsagIssue(line, code, message, column=column, msag_id=msag_id))

    upper = {k: v.upper() for k, v in values.items()
             if k not in ("msag_id", "source", "source_ids")}
    for name in REQUIRED_COLUMNS:
        if not values.get(name):
            bad("missing_field", name, f"{name} is empty; it is required")
    country = upper.get("country", "")
    if country and country not in COUNTRIES:
        bad("bad_country", "country", f"country {country!r} is not US or CA")
    state = upper.get("state", "")
    if state and country in _STATE and state not in _STATE[country]:
        bad("bad_state", "state", f"state {state!r} is not a {country} state/province code")
    numbers: dict[str, int] = {}
    for name in ("low", "high"):
        raw = values.get(name, "")
        if raw and not _ASCII_DIGITS.fullmatch(raw):
            bad("bad_integer", name, f"{name} {raw!r} is not a whole non-negative number")
        elif raw:
            numbers[name] = int(raw)
            if numbers[name] > MAX_HOUSE_NUMBER:
                bad("bad_integer", name, f"{name} {raw} exceeds {MAX_HOUSE_NUMBER}")
    if len(numbers) == 2 and numbers["low"] > numbers["high"]:
        bad("low_above_high", "low", f"low {numbers['low']} > high {numbers['high']}")
    parity = upper.get("parity", "")
    if parity and parity not in PARITIES:
        bad("bad_parity", "parity", f"parity {parity!r} must be O, E or B")
    for name in ("pre_dir", "post_dir"):
        if upper.get(name) and upper[name] not in DIRECTIONAL_CODES:
            bad("bad_directional", name,
                f"{name} {upper[name]!r} must be one of N S E W NE NW SE SW or empty")
    esn = upper.get("esn", "")
    if esn and not _ESN.fullmatch(esn):
        bad("bad_esn", "esn", f"esn {esn!r} must be 3-5 letters or digits")
    for name in ("effective_date", "expire_date"):
        raw = values.get(name, "")
        if raw:
            try:
                date.fromisoformat(raw)
            except ValueError:
                bad("bad_date", name, f"{name} {raw!r} is not an ISO 8601 date (YYYY-MM-DD)")
    if errors and not msag_id:
        return None, errors
    row = MsagRow(
        msag_id=msag_id, country=country, state=state, county=upper.get("county", ""),
        msag_community=upper.get("msag_community", ""),
        postal_community=upper.get("postal_community", ""), zip=upper.get("zip", ""),
        pre_dir=upper.get("pre_dir", ""), street_name=upper.get("street_name", ""),
        street_type=upper.get("street_type", ""), post_dir=upper.get("post_dir", ""),
        low=numbers.get("low", 0), high=numbers.get("high", 0), parity=parity, esn=esn,
        exchange=upper.get("exchange", ""), psap_id=values.get("psap_id", ""),
        effective_date=values.get("effective_date", ""),
        expire_date=values.get("expire_date", ""), source=values.get("source", ""),
        source_ids=values.get("source_ids", ""), line=line,
    )
    return row, errors


def _shared_numbers(a: MsagRow, b: MsagRow) -> tuple[int, int] | None:
    """The first and last house numbers both rows cover, or None if they share none."""
    low, high = max(a.low, b.low), min(a.high, b.high)
    if low > high:
        return None
    parities = {a.parity, b.parity} - {"B"}
    if len(parities) == 2:
        return None
    if not parities:
        return low, high
    want = 1 if parities == {"O"} else 0
    if low % 2 != want:
        low += 1
    if high % 2 != want:
        high -= 1
    return (low, high) if low <= high else None


def find_overlaps(rows: Iterable[MsagRow]) -> tuple[MsagOverlap, ...]:
    """Pairs of rows on the same street (country, state, community, pre, name, type, post)
    that cover a common house number with different ESNs, in file order."""
    streets: dict[tuple[CommunityKey, StreetKey], list[MsagRow]] = defaultdict(list)
    for row in rows:
        streets[(row.community_key, row.street_key)].append(row)
    found: list[MsagOverlap] = []
    for street_rows in streets.values():
        if len(street_rows) < 2 or len({r.esn for r in street_rows}) < 2:
            continue
        ordered = sorted(street_rows, key=lambda r: (r.low, r.line))
        active: list[MsagRow] = []
        for row in ordered:
            active = [a for a in active if a.high >= row.low]
            for other in active:
                if other.esn == row.esn:
                    continue
                shared = _shared_numbers(other, row)
                if shared is not None:
                    first, second = sorted((other, row), key=lambda r: r.line)
                    found.append(MsagOverlap(first, second, shared[0], shared[1]))
            active.append(row)
    return tuple(sorted(found, key=lambda o: (o.first.line, o.second.line)))


# --- the in-memory index -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EsnResolution:
    """Which row gives the ESN for a house number, or why none can."""

    row: MsagRow | None
    """The row that decides the ESN; None when the MSAG is in conflict."""
    covering: tuple[MsagRow, ...]
    """Every row that covers the house number (one or more)."""
    resolved_by: str = ""
    """"range" (one ESN), "zip" (ZIP picked one of several ESNs) or "" (conflict)."""

    @property
    def conflict(self) -> bool:
        return self.row is None


def resolve_esn(covering: tuple[MsagRow, ...], zip_code: str = "") -> EsnResolution:
    """Pick the row that decides the ESN among rows covering one house number.

    Rows that agree on the ESN are not a conflict: the most specific one (odd/even over
    both, then the narrowest range, then the earliest line) is returned. Rows with different
    ESNs are resolved only when `zip_code` equals the ZIP of rows of exactly one ESN;
    otherwise the result has `row=None` and the caller must show the conflict.
    """
    if not covering:
        raise ValueError("resolve_esn needs at least one covering row")
    esns = {r.esn for r in covering}
    if len(esns) == 1:
        return EsnResolution(_most_specific(covering), covering, "range")
    if zip_code:
        by_zip = [r for r in covering if r.zip and r.zip == zip_code]
        if by_zip and len({r.esn for r in by_zip}) == 1:
            return EsnResolution(_most_specific(tuple(by_zip)), covering, "zip")
    return EsnResolution(None, covering, "")


def _most_specific(rows: tuple[MsagRow, ...]) -> MsagRow:
    return min(rows, key=lambda r: (r.parity == "B", r.high - r.low, r.line))


@dataclass(frozen=True, slots=True)
class _Ranges:
    """One street's ranges sorted by low, with the widest span to bound the search."""

    rows: tuple[MsagRow, ...]
    lows: tuple[int, ...]
    max_span: int

    def covering(self, number: int) -> tuple[MsagRow, ...]:
        end = bisect.bisect_right(self.lows, number)
        start = bisect.bisect_left(self.lows, number - self.max_span, 0, end)
        return tuple(r for r in self.rows[start:end] if r.covers(number))


@dataclass(frozen=True, slots=True)
class MsagIndex:
    """Everything validation asks of the MSAG, answered from dictionaries.

    Built once per extract (`from_rows`); immutable, so it can be swapped atomically when a
    new extract is imported and shared between threads without locks.
    """

    streets: Mapping[CommunityKey, Mapping[StreetKey, _Ranges]]
    """(country, state, community) -> (pre, name, type, post) -> ranges."""
    names: Mapping[CommunityKey, Mapping[str, tuple[StreetKey, ...]]]
    """(country, state, community) -> street_name -> the street keys with that name."""
    aliases: Mapping[tuple[str, str, str], tuple[str, ...]]
    """(country, state, postal_community or msag_community) -> msag communities."""
    zips: Mapping[tuple[str, str], tuple[CommunityKey, ...]]
    """(country, zip) -> communities whose rows carry that ZIP."""
    community_names: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    """(country, state) -> every msag and postal community name (for suggestions)."""
    row_count: int = 0
    state_streets: Mapping[tuple[str, str, str], tuple[CommunityKey, ...]] = field(
        default_factory=dict)
    """(country, state, street_name) -> communities that have a street of that name."""
    _similar: dict[tuple[CommunityKey, str], tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False)
    _by_length: dict[CommunityKey, _LengthBuckets] = field(
        default_factory=dict, compare=False, repr=False)
    """`_similar` is filled on first use per (community, name); `_by_length` is built with the
    index. The index is otherwise immutable, and a dict item assignment is atomic under the
    GIL, so threads may share it."""

    @classmethod
    def from_rows(cls, rows: Iterable[MsagRow], *, as_of: date | None = None) -> MsagIndex:
        """Index rows; with `as_of`, rows not yet effective or already expired are left out."""
        streets: dict[CommunityKey, dict[StreetKey, list[MsagRow]]] = defaultdict(
            lambda: defaultdict(list))
        aliases: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        zips: dict[tuple[str, str], set[CommunityKey]] = defaultdict(set)
        count = 0
        for row in rows:
            if as_of is not None and not _in_force(row, as_of):
                continue
            count += 1
            streets[row.community_key][row.street_key].append(row)
            aliases[(row.country, row.state, row.msag_community)].add(row.msag_community)
            if row.postal_community:
                aliases[(row.country, row.state, row.postal_community)].add(
                    row.msag_community)
            if row.zip:
                zips[(row.country, _zip_key(row.zip))].add(row.community_key)
        frozen_streets: dict[CommunityKey, dict[StreetKey, _Ranges]] = {}
        names: dict[CommunityKey, dict[str, tuple[StreetKey, ...]]] = {}
        for community, by_street in streets.items():
            frozen_streets[community] = {
                key: _ranges(street_rows) for key, street_rows in by_street.items()}
            by_name: dict[str, list[StreetKey]] = defaultdict(list)
            for key in sorted(by_street):
                by_name[key[1]].append(key)
            names[community] = {name: tuple(keys) for name, keys in by_name.items()}
        community_names: dict[tuple[str, str], set[str]] = defaultdict(set)
        for country, state, name in aliases:
            community_names[(country, state)].add(name)
        state_streets: dict[tuple[str, str, str], list[CommunityKey]] = defaultdict(list)
        for community, community_streets in names.items():
            for street_name in community_streets:
                state_streets[(community[0], community[1], street_name)].append(community)
        return cls(
            streets=frozen_streets,
            names=names,
            aliases={k: tuple(sorted(v)) for k, v in aliases.items()},
            zips={k: tuple(sorted(v)) for k, v in zips.items()},
            community_names={k: tuple(sorted(v)) for k, v in community_names.items()},
            row_count=count,
            state_streets={k: tuple(v) for k, v in state_streets.items()},
            # Built now, not on first use: a 5,000-street city costs ~10 ms to bucket, which
            # would otherwise land on one unlucky validation.
            _by_length={c: _LengthBuckets.build(n) for c, n in names.items()},
        )

    def communities_for(self, country: str, state: str, city: str) -> tuple[str, ...]:
        """MSAG communities a city name stands for (itself, or through the postal alias)."""
        return self.aliases.get((country, state, city), ())

    def communities_for_zip(self, country: str, zip_code: str) -> tuple[CommunityKey, ...]:
        return self.zips.get((country, _zip_key(zip_code)), ())

    def street_keys(self, community: CommunityKey, street_name: str) -> tuple[StreetKey, ...]:
        """Every (pre, name, type, post) with this street name in the community."""
        return self.names.get(community, {}).get(street_name, ())

    def street_names(self, community: CommunityKey) -> Iterable[str]:
        return self.names.get(community, {}).keys()

    def ranges(self, community: CommunityKey, street: StreetKey) -> tuple[MsagRow, ...]:
        """All ranges of one street, sorted by low."""
        found = self.streets.get(community, {}).get(street)
        return found.rows if found else ()

    def covering(self, community: CommunityKey, street: StreetKey,
                 number: int) -> tuple[MsagRow, ...]:
        """Rows of this street that cover the house number (parity included)."""
        found = self.streets.get(community, {}).get(street)
        return found.covering(number) if found else ()

    def has_state(self, country: str, state: str) -> bool:
        return (country, state) in self.community_names

    def communities_in_state(self, country: str, state: str) -> tuple[CommunityKey, ...]:
        return tuple(c for c in self.streets if c[0] == country and c[1] == state)

    def fuzzy_street_names(self, community: CommunityKey, name: str, *, limit: int = 5,
                           cutoff: float = 70.0) -> list[tuple[str, float]]:
        """Street names of the community that look like `name`, best first."""
        names = self._buckets(community).candidates(name)
        if not names:
            return []
        found = process.extract(name, names, scorer=fuzz.ratio, limit=limit,
                                score_cutoff=cutoff)
        return [(str(match), float(score)) for match, score, _ in found]

    def communities_with_street(self, country: str, state: str,
                                street_name: str) -> tuple[CommunityKey, ...]:
        return self.state_streets.get((country, state, street_name), ())

    def fuzzy_communities(self, country: str, state: str, city: str, *, limit: int = 5,
                          cutoff: float = 75.0) -> list[tuple[str, float]]:
        """Community names (MSAG or postal) of the state that look like `city`, best first."""
        names = self.community_names.get((country, state), ())
        found = process.extract(city, names, scorer=fuzz.WRatio, limit=limit,
                                score_cutoff=cutoff)
        return [(str(match), float(score)) for match, score, _ in found]

    def similar_street_names(self, community: CommunityKey, name: str) -> tuple[str, ...]:
        """Other street names in the community that people confuse with `name`: spaces
        aside, one edit apart, or two for names of six letters or more ("LARAMIE" and
        "LARIME", "STUDHORSE" and "STUD HORSE"). Names with digits are left out ("4TH" and
        "5TH" are different streets, not typos). Cached per (community, name)."""
        key = (community, name)
        cached = self._similar.get(key)
        if cached is None:
            cached = ()
            squeezed = name.replace(" ", "")
            if not _has_digit(squeezed) and len(squeezed) >= 3:
                cached = self._buckets(community).confusable(squeezed, name)
            self._similar[key] = cached
        return cached

    def _buckets(self, community: CommunityKey) -> _LengthBuckets:
        buckets = self._by_length.get(community)
        if buckets is None:
            buckets = _LengthBuckets.build(self.names.get(community, {}))
            self._by_length[community] = buckets
        return buckets


@dataclass(frozen=True, slots=True)
class _LengthBuckets:
    """A community's street names arranged for fuzzy search.

    Confusable names: the letter-only ones grouped by length without spaces, since names two
    edits apart differ in length by two at most. Suggestions in a big community: the names
    sharing the first letter or the last two letters with the query, since one or two typos
    rarely change both ends (a 5,000-street city then compares a few hundred, not 5,000).
    """

    all_names: tuple[str, ...]
    by_length: Mapping[int, tuple[tuple[str, ...], tuple[str, ...]]]
    """length -> (squeezed names, original names), parallel."""
    by_first: Mapping[str, tuple[str, ...]]
    by_last2: Mapping[str, tuple[str, ...]]

    SMALL: ClassVar[int] = 500
    """Up to this many names, suggestions compare them all."""

    @classmethod
    def build(cls, names: Iterable[str]) -> _LengthBuckets:
        grouped: dict[int, list[tuple[str, str]]] = defaultdict(list)
        by_first: dict[str, list[str]] = defaultdict(list)
        by_last2: dict[str, list[str]] = defaultdict(list)
        all_names = tuple(names)
        for original in all_names:
            squeezed = original.replace(" ", "")
            if not _has_digit(squeezed):
                grouped[len(squeezed)].append((squeezed, original))
            if len(all_names) > cls.SMALL:
                by_first[original[:1]].append(original)
                by_last2[original[-2:]].append(original)
        return cls(
            all_names,
            {length: (tuple(s for s, _ in pairs), tuple(o for _, o in pairs))
             for length, pairs in grouped.items()},
            {k: tuple(v) for k, v in by_first.items()},
            {k: tuple(v) for k, v in by_last2.items()},
        )

    def candidates(self, name: str) -> tuple[str, ...]:
        """Names worth scoring as suggestions for `name`."""
        if len(self.all_names) <= self.SMALL:
            return self.all_names
        return tuple(dict.fromkeys(self.by_first.get(name[:1], ())
                                   + self.by_last2.get(name[-2:], ())))

    def confusable(self, squeezed: str, name: str) -> tuple[str, ...]:
        length = len(squeezed)
        squeezed_names: tuple[str, ...] = ()
        originals: tuple[str, ...] = ()
        for other_length in range(length - 2, length + 3):
            bucket = self.by_length.get(other_length)
            if bucket is not None:
                squeezed_names += bucket[0]
                originals += bucket[1]
        found: set[str] = set()
        # One C-level pass with the loosest limit (2); the tighter limit for short names is
        # applied to the few candidates that come back.
        for candidate, distance, i in process.extract(squeezed, squeezed_names,
                                                      scorer=OSA.distance, score_cutoff=2,
                                                      limit=None):
            limit = 2 if min(length, len(candidate)) >= 6 else 1
            if distance <= limit and originals[i] != name:
                found.add(originals[i])
        return tuple(sorted(found))


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def _ranges(rows: list[MsagRow]) -> _Ranges:
    ordered = tuple(sorted(rows, key=lambda r: (r.low, r.line)))
    return _Ranges(ordered, tuple(r.low for r in ordered),
                   max(r.high - r.low for r in ordered))


def _zip_key(zip_code: str) -> str:
    """US ZIP -> 5 digits; Canadian postal code -> its FSA (the first three characters),
    which is what the fixture carries."""
    compact = zip_code.replace(" ", "").upper()
    return compact[:5] if compact[:1].isdigit() else compact[:3]


def _in_force(row: MsagRow, as_of: date) -> bool:
    if row.effective_date and date.fromisoformat(row.effective_date) > as_of:
        return False
    return not (row.expire_date and date.fromisoformat(row.expire_date) < as_of)
