"""The MSAG index the API validates against: built once, rebuilt when the extract changes.

Building an index from the extract costs a full read of `msag_rows` (seconds for a county
set of 500,000 rows), so it is never done per request. The cache asks the store which import
is in force at most every `check_interval_seconds`; when the version moved (an operator ran
`e911-router msag import`), one request rebuilds the index while the others keep using the
previous one, then the new index is swapped in with one reference assignment (`MsagIndex` is
immutable and shared between threads).

Validation itself stays synchronous: `validate()` runs the pure pipeline of
`router.location.validate` (about 0.1 ms) and counts the result in
`e911_msag_validations_total`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from router.api.errors import ApiError, FieldError, invalid
from router.location.civic import AddressInput
from router.location.model import ValidatedAddress
from router.location.msag import MsagIndex
from router.location.validate import (
    FieldIssue,
    ValidationResult,
    ValidationStatus,
    validate_address,
)
from router.metrics import MSAG_VALIDATIONS
from router.metrics import ValidationResult as ValidationLabel
from router.store.store import Store

log = structlog.get_logger(__name__)

_EMPTY = MsagIndex.from_rows(())


class MsagCache:
    """See the module docstring."""

    def __init__(self, store: Store, *, check_interval_seconds: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._interval = check_interval_seconds
        self._clock = clock
        self._index = _EMPTY
        self._version: int | None = None
        self._checked_at: float | None = None
        self._rebuild = threading.Lock()

    @property
    def version(self) -> int | None:
        """The import the index was built from (None before the first import)."""
        return self._version

    def index(self) -> MsagIndex:
        """The index to validate against (never waits on a rebuild once one is loaded)."""
        checked = self._checked_at
        loaded = checked is not None
        if checked is not None and self._clock() - checked < self._interval:
            return self._index
        if not self._rebuild.acquire(blocking=not loaded):
            return self._index  # another request is checking or rebuilding: use the old one
        try:
            self._refresh()
        except Exception:
            if not loaded:
                raise  # nothing to validate against: the caller answers 503
            # The store blinked: keep validating against the extract already loaded.
            log.warning("e911.api.msag_check_failed", version=self._version, exc_info=True)
        finally:
            self._rebuild.release()
        self._checked_at = self._clock()
        return self._index

    def _refresh(self) -> None:
        current = self._store.msag_version()
        version = current.version if current is not None else None
        if version == self._version:
            return
        started = time.perf_counter()
        rows = self._store.load_msag_rows()
        self._index = MsagIndex.from_rows(rows) if rows else _EMPTY
        self._version = version
        log.info("e911.api.msag_loaded", version=version, rows=len(rows),
                 seconds=round(time.perf_counter() - started, 3))

    def validate(self, raw: AddressInput) -> ValidationResult:
        try:
            index = self.index()
        except Exception:
            MSAG_VALIDATIONS.labels(result=ValidationLabel.ERROR).inc()
            raise
        result = validate_address(raw, index)
        MSAG_VALIDATIONS.labels(result=ValidationLabel(result.status.value)).inc()
        return result


def validated_or_422(result: ValidationResult, prefix: str = "") -> ValidatedAddress:
    """The address to store, or a 422 carrying each field error with its suggestions.

    An address the MSAG gives two ESNs (overlapping ranges; see `validate.py`) validates and
    is stored without an ESN (see `ValidatedAddress`); the response's `esn_conflict` warning
    tells the administrator to have the MSAG fixed. An ESN is never picked at random.
    """
    if result.status is ValidationStatus.VALID and result.normalized is not None \
            and result.msag is not None:
        conflict = not result.msag.esn
        return ValidatedAddress(result.normalized, "" if conflict else result.msag.msag_id,
                                result.msag.esn)
    raise invalid(address_errors(result, prefix), "the address did not validate against "
                                                  "the MSAG")


def address_errors(result: ValidationResult, prefix: str = "") -> list[FieldError]:
    issues: list[FieldIssue] = list(result.errors)
    return [_field_error(issue, prefix) for issue in issues] or [
        FieldError(prefix.rstrip(".") or "address", "invalid", "the address is not valid")]


def warnings_json(result: ValidationResult, prefix: str = "") -> list[dict[str, object]]:
    return [_field_error(w, prefix).to_json() for w in result.warnings]


def _field_error(issue: FieldIssue, prefix: str) -> FieldError:
    return FieldError(prefix + issue.field, issue.code.value, issue.message, issue.suggestions)


def no_address_error(prefix: str) -> ApiError:
    return invalid([FieldError(prefix.rstrip("."), "required", "an address is required")])
