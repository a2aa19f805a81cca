"""The errors of the data layer: the store's refusals (not found, conflict, an invalid value,
an MSAG extract refused) and a database URL it cannot use. Database outages surface as
SQLAlchemy errors."""

from __future__ import annotations

from collections.abc import Sequence


class StoreError(Exception):
    """Base of the store's own errors (database outages surface as SQLAlchemy errors)."""


class NotFound(StoreError):
    """No such record *for this caller*: another user's record is reported the same way."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(StoreError):
    """The change contradicts stored state (a duplicate, a record still in use)."""


class EnableRefused(Conflict):
    """Emergency calling cannot be enabled until these settings are present."""

    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__("emergency settings incomplete: " + ", ".join(missing))
        self.missing = tuple(missing)


class InvalidValue(StoreError, ValueError):
    """An argument the store will not keep (bad IP, non-E.164 number, 11 contacts...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class MsagRejected(InvalidValue):
    """The database refused a row of the extract (a constraint); the old one stays."""

    def __init__(self, message: str) -> None:
        super().__init__("msag", message)
