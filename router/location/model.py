"""Store-level records: what the location store keeps and what a lookup answers.

Everything here is a frozen value. The store (`store.py`) builds them from rows; the in-memory
view (`view.py`) builds them from its snapshot; the SIP path and the HTTP API only read them.
The stored address (`SavedAddress`) and the per-call answer (`Located`) are separate objects,
as Asterisk's res_geolocation keeps location and effective location apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from router.location.civic import CivicAddress

DEFAULT_ACCOUNT_ID = "acct_default"
"""The account created by the first migration; single-tenant installs never name another."""

LANGUAGES = frozenset({"en", "es", "fr"})
"""Languages a callback or announcement can be given in: the values of
`router.language.Language` (not imported: the store must load without the SIP settings)."""

MAX_EMERGENCY_CONTACTS = 10
"""Talkdesk's limit: "You can add up to 10 e-mails or mailing lists"."""

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
"""ITU-T E.164 shape only; the API checks the number is a valid US/CA number (phonenumbers)."""


class CallbackPreference(StrEnum):
    """Which callback number the PSAP gets for this user's calls."""

    OWN = "own"
    ACCOUNT = "account"


class LocationSource(StrEnum):
    """Where an effective location came from."""

    BINDING = "binding"
    """The user's saved address bound to the network the device is on."""
    NETWORK = "network"
    """An administrator's CIDR map (fixed devices, 47 CFR 9.16(b)(3))."""


class UnlocatedReason(StrEnum):
    NOT_LOADED = "not_loaded"
    """The view has no snapshot yet (store unreachable at start)."""
    NO_BINDING = "no_binding"
    """Known user, no binding for this network and no admin network contains the IP."""
    UNKNOWN_USER = "unknown_user"
    """No such user in the account, and no admin network contains the IP."""
    UNKNOWN_ACCOUNT = "unknown_account"
    INVALID_IP = "invalid_ip"
    """The device IP did not parse (a header from a misconfigured PBX)."""
    ERROR = "error"
    """A bug on the lookup path; logged, never raised to the SIP thread."""


class EventType(StrEnum):
    NETWORK_CHANGED = "network.changed"
    EMERGENCY_CALL_STARTED = "emergency_call.started"
    """Written when a 911/933 call's route is decided and its notification recorded."""


@dataclass(frozen=True, slots=True)
class ValidatedAddress:
    """A civic address that passed MSAG validation, with the MSAG row it matched.

    The only shape in which an address enters the store: raw `AddressInput` never does.
    """

    civic: CivicAddress
    msag_id: str
    esn: str
    """Both set (the range it matched), or both "" for an address in an MSAG ESN conflict:
    the street range exists but overlapping rows disagree on the ESN and no field settles
    it. Such an address is saved (it exists, and its PIDF-LO carries the civic location the
    carrier routes on) without an ESN, never with one picked at random; the validation
    warning `esn_conflict` tells the administrator to have the MSAG fixed."""

    def __post_init__(self) -> None:
        if bool(self.msag_id) != bool(self.esn):
            raise ValueError("a validated address has both msag_id and esn, or neither "
                             "(an MSAG ESN conflict)")

    @property
    def esn_conflict(self) -> bool:
        return not self.esn


@dataclass(frozen=True, slots=True)
class Callback:
    """The number a PSAP calls back, with the name and language it is given in."""

    display_name: str
    number: str
    """E.164, e.g. "+14065550100"."""
    language: str

    def __post_init__(self) -> None:
        if not E164.match(self.number):
            raise ValueError("callback number must be E.164 (+ and up to 15 digits)")
        if self.language not in LANGUAGES:
            raise ValueError(f"callback language must be one of {sorted(LANGUAGES)}")


@dataclass(frozen=True, slots=True)
class Account:
    """A tenant: its emergency settings (Talkdesk's admin page)."""

    id: str
    name: str
    language: str
    enabled: bool
    default_address: ValidatedAddress | None
    callback: Callback | None
    contacts: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    """A SIP user (extension) of an account, with its own emergency information."""

    account_id: str
    sip_user: str
    display_name: str
    callback_number: str | None
    language: str | None
    callback_preference: CallbackPreference
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Binding:
    """A saved address bound to the network a device registered from."""

    address_id: str
    account_id: str
    sip_user: str
    network: str
    """Canonical CIDR: the device IP grouped by the bind prefix ("203.0.113.7/32")."""
    registered_ip: str
    bound_at: datetime


@dataclass(frozen=True, slots=True)
class SavedAddress:
    """One of a user's saved, validated addresses ("home", "office")."""

    id: str
    account_id: str
    sip_user: str
    label: str
    address: ValidatedAddress
    binding: Binding | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Network:
    """An administrator's CIDR -> address map entry."""

    id: str
    account_id: str
    cidr: str
    label: str
    address_id: str | None
    """Set when the network points at a saved address; else `address` is inline."""
    address: ValidatedAddress
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event (`network.changed` here; other issues add types)."""

    seq: int
    """Monotonic per store: the SSE `id` and the `after_seq` cursor."""
    id: str
    type: str
    account_id: str
    sip_user: str | None
    network: str | None
    data: dict[str, object]
    created_at: datetime

    def wire(self) -> dict[str, object]:
        """The event as the SSE stream and the webhook carry it (docs/api.md, "Events")."""
        return {"id": self.id, "seq": self.seq, "type": self.type,
                "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
                "account": self.account_id, "user": self.sip_user, "data": self.data}


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append (`Store.record_events`); seq, id and time are the store's."""

    account_id: str
    type: str
    data: Mapping[str, object]
    sip_user: str | None = None
    network: str | None = None


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a cursor-paginated list (Stripe's `data` / `has_more`)."""

    data: tuple[T, ...]
    has_more: bool


@dataclass(frozen=True, slots=True)
class MsagVersion:
    """The MSAG extract in force."""

    version: int
    imported_at: datetime
    source: str
    row_count: int
    overlap_count: int


@dataclass(frozen=True, slots=True)
class Located:
    """The effective location for one call: what the PIDF-LO is built from."""

    address_id: str | None
    """The saved address; None when an admin network carries its address inline."""
    civic: CivicAddress
    msag_id: str
    esn: str
    source: LocationSource
    network: str
    """The binding's network or the admin CIDR that matched."""
    network_id: str | None = None
    """The admin network entry, when `source` is NETWORK."""


@dataclass(frozen=True, slots=True)
class Unlocated:
    """No location for this call: 911 goes to the sorting center, other calls are announced."""

    reason: UnlocatedReason


Location = Located | Unlocated


@dataclass(frozen=True, slots=True)
class CallerContext:
    """What the call plan needs about the caller besides the location."""

    loaded: bool
    """False until the view has a snapshot; then every other field is a default."""
    account_known: bool = False
    account_enabled: bool = False
    account_language: str | None = None
    account_callback: Callback | None = None
    contacts_count: int = 0
    user_known: bool = False
    user_display_name: str | None = None
    user_callback_number: str | None = None
    user_language: str | None = None
    callback_preference: CallbackPreference = CallbackPreference.ACCOUNT
    user_has_addresses: bool = False

    @property
    def callback_number(self) -> str | None:
        """The number the PSAP gets: the user's own when preferred and set, else the account's."""
        if self.callback_preference is CallbackPreference.OWN and self.user_callback_number:
            return self.user_callback_number
        if self.account_callback is not None:
            return self.account_callback.number
        return self.user_callback_number

    @property
    def display_name(self) -> str | None:
        """The caller's name: the user's display name, else the account callback's."""
        if self.user_display_name:
            return self.user_display_name
        return self.account_callback.display_name if self.account_callback else None

    @property
    def language(self) -> str | None:
        """The user's language, else the account callback's, else the account's."""
        if self.user_language:
            return self.user_language
        if self.account_callback is not None:
            return self.account_callback.language
        return self.account_language
