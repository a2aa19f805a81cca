"""Request and response bodies (pydantic), and the record -> response conversions.

Every request model forbids unknown fields (a typo such as `"enable": true` is a 422, not a
silently ignored field) and is strict about JSON types (`"enabled": "yes"` is refused).
String fields carry generous length caps so that nothing unbounded reaches the validators;
the real rules (MSAG, e-mail, phone number, display name) are in `checks.py` and
`router.location.validate`, which report every bad field at once.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from router.api.auth import ApiToken
from router.location.civic import AddressInput, CivicAddress
from router.location.model import (
    Account,
    Binding,
    Located,
    Location,
    Network,
    SavedAddress,
    User,
    ValidatedAddress,
)

Language = Literal["en", "es", "fr"]
LANGUAGES: tuple[str, ...] = get_args(Language)
CallbackPreferenceName = Literal["own", "account"]

Text = Annotated[str, Field(max_length=256)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# --- requests -----------------------------------------------------------------------------


class AddressIn(_In):
    """An address as typed (Talkdesk's fields). Every field is checked against the MSAG;
    missing ones are reported by that check, field by field."""

    country: Text = Field("", description="US or CA", examples=["US"])
    house_number: Text = Field("", examples=["301"])
    street: Text = Field("", description="Street line without the number",
                         examples=["E Laramie St"])
    street2: Text = Field("", description="Suite, floor, room, building",
                          examples=["Suite 4"])
    city: Text = Field("", examples=["White Sulphur Springs"])
    state: Text = Field("", description="State or province code or name", examples=["MT"])
    postal_code: Text = Field("", description="ZIP or Canadian postal code",
                              examples=["59645"])
    plus4: Text = Field("", description="ZIP+4 add-on (optional)")

    def to_input(self) -> AddressInput:
        return AddressInput(**{f.name: getattr(self, f.name) for f in fields(AddressInput)})


class SavedAddressIn(AddressIn):
    """A user's address to save (DialStack's `setEmergencyAddress`), with an optional label."""

    label: Text = Field("", description="Free text, e.g. home or office")


class CallbackIn(_In):
    display_name: Text = Field(description="Letters and digits only (single spaces between "
                                           "words), at most 40", examples=["Acme Support"])
    number: Text = Field(description="A US or Canadian number in any common form; stored "
                                     "as E.164", examples=["+14065473911"])
    # Checked by the route, not by pydantic, so that a bad language is reported together
    # with the other fields' errors (issue 18); the document still says which values.
    language: Annotated[Text, WithJsonSchema({"type": "string", "enum": list(LANGUAGES)})] = (
        Field(description="The language the PSAP should use to call back"))


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class EmergencySettingsIn(_In):
    """The account's emergency settings. Fields left out keep their value; `null` clears
    one (refused with 409 while emergency calling is enabled)."""

    default_address: AddressIn | None = None
    emergency_contacts: Annotated[list[Text], Field(max_length=10)] | None = Field(
        None, description="1 to 10 e-mail addresses or mailing lists")
    callback: CallbackIn | None = None
    # The document says boolean (leave it out to keep it); an explicit null is refused by
    # the route with a field error.
    enabled: Annotated[bool | None, WithJsonSchema({"type": "boolean"})] = Field(
        None, description="Turn emergency calling on or off; on needs the three settings "
                          "above", json_schema_extra=_no_default)


class UserIn(_In):
    display_name: Text = Field("", description="Letters and digits (spaces between words)")
    callback_number: Text | None = Field(None, description="The user's own callback number")
    language: Language | None = None
    callback_preference: CallbackPreferenceName = Field(
        "account", description="Which callback number the PSAP gets: the user's own or the "
                               "account's")


class TokenIn(_In):
    label: Text = Field("", description="What the token is for, e.g. softphone")


class RegisteredIpIn(_In):
    ip: Text | None = Field(None, description="The device's IP: administrator tokens only "
                                              "(a PBX acting for the device); otherwise the "
                                              "request's source address is used")


class NetworkIn(_In):
    cidr: Text = Field(examples=["10.20.0.0/16"])
    label: Text = ""
    address: AddressIn | None = Field(None, description="Validated against the MSAG")
    address_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")] | None = Field(
        None, description="Or the id of a saved address of the account")


# --- responses ----------------------------------------------------------------------------


class AddressOut(BaseModel):
    """A normalised, MSAG-validated civic address (USPS Publication 28 spelling) with the
    MSAG row it matched. Each civic field maps to an RFC 5139 element (docs/pidf-lo.md)."""

    country: str
    state: str
    county: str
    city: str
    community: str
    house_number: str
    house_number_suffix: str
    prefix_directional: str
    street_name: str
    street_suffix: str
    post_directional: str
    building: str
    floor: str
    unit: str
    room: str
    location_info: str
    postal_code: str
    plus4: str
    postal_community: str
    msag_id: str
    esn: str


class FieldIssueOut(BaseModel):
    field: str
    code: str
    message: str
    suggestions: list[str]


class BindingOut(BaseModel):
    network: str = Field(description="The device IP grouped by the bind prefix (CIDR)")
    registered_ip: str
    bound_at: datetime


class SavedAddressOut(BaseModel):
    id: str
    user: str
    label: str
    address: AddressOut
    binding: BindingOut | None
    created_at: datetime


class CreatedAddressOut(SavedAddressOut):
    warnings: list[FieldIssueOut] = Field(description="Valid, but worth a look (a similar "
                                                      "street name, a corrected city...)")


class AddressPage(BaseModel):
    data: list[SavedAddressOut]
    has_more: bool


class CallbackOut(BaseModel):
    display_name: str
    number: str
    language: Language


class EmergencySettingsOut(BaseModel):
    enabled: bool
    default_address: AddressOut | None
    emergency_contacts: list[str]
    callback: CallbackOut | None
    missing: list[str] = Field(description="What is still needed before emergency calling "
                                           "can be enabled")
    updated_at: datetime
    warnings: list[FieldIssueOut] = Field(
        default=[], description="About the default address just sent (PUT only)")


class UserOut(BaseModel):
    user: str
    display_name: str
    callback_number: str | None
    language: Language | None
    callback_preference: CallbackPreferenceName
    created_at: datetime
    updated_at: datetime


class UserPage(BaseModel):
    data: list[UserOut]
    has_more: bool


class TokenOut(BaseModel):
    id: str
    user: str
    label: str
    created_at: datetime


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The bearer token; shown only in this response")


class TokenList(BaseModel):
    data: list[TokenOut]


class NetworkOut(BaseModel):
    id: str
    cidr: str
    label: str
    address_id: str | None
    address: AddressOut
    created_at: datetime


class NetworkPage(BaseModel):
    data: list[NetworkOut]
    has_more: bool


class LocationOut(BaseModel):
    """Which address applies to this user on this network, or why none does."""

    ip: str
    located: bool
    source: Literal["binding", "network"] | None = Field(
        description="binding: the user's saved address bound to this network; network: an "
                    "administrator's CIDR map")
    reason: str | None = Field(description="Why not located: no_binding, unknown_user, ...")
    address_id: str | None
    network: str | None
    network_id: str | None
    address: AddressOut | None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    msag_version: int | None


# --- conversions ----------------------------------------------------------------------------

_CIVIC_OUT = [name for name in AddressOut.model_fields if name not in ("msag_id", "esn")]


def address_out(address: ValidatedAddress) -> AddressOut:
    civic: CivicAddress = address.civic
    values: dict[str, Any] = {name: getattr(civic, name) for name in _CIVIC_OUT}
    return AddressOut(msag_id=address.msag_id, esn=address.esn, **values)


def binding_out(binding: Binding | None) -> BindingOut | None:
    if binding is None:
        return None
    return BindingOut(network=binding.network, registered_ip=binding.registered_ip,
                      bound_at=binding.bound_at)


def saved_out(saved: SavedAddress) -> SavedAddressOut:
    return SavedAddressOut(id=saved.id, user=saved.sip_user, label=saved.label,
                           address=address_out(saved.address),
                           binding=binding_out(saved.binding), created_at=saved.created_at)


def missing_for_enable(account: Account) -> list[str]:
    return [name for name, present in (
        ("default_address", account.default_address is not None),
        ("emergency_contacts", bool(account.contacts)),
        ("callback", account.callback is not None),
    ) if not present]


def settings_out(account: Account) -> EmergencySettingsOut:
    callback = account.callback
    return EmergencySettingsOut(
        enabled=account.enabled,
        default_address=address_out(account.default_address) if account.default_address
        else None,
        emergency_contacts=list(account.contacts),
        callback=CallbackOut(display_name=callback.display_name, number=callback.number,
                             language=callback.language)  # type: ignore[arg-type]
        if callback else None,
        missing=missing_for_enable(account),
        updated_at=account.updated_at,
    )


def user_out(user: User) -> UserOut:
    return UserOut(user=user.sip_user, display_name=user.display_name,
                   callback_number=user.callback_number,
                   language=user.language,  # type: ignore[arg-type]
                   callback_preference=user.callback_preference.value,  # type: ignore[arg-type]
                   created_at=user.created_at, updated_at=user.updated_at)


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut(id=token.id, user=token.sip_user, label=token.label,
                    created_at=token.created_at)


def network_out(network: Network) -> NetworkOut:
    return NetworkOut(id=network.id, cidr=network.cidr, label=network.label,
                      address_id=network.address_id, address=address_out(network.address),
                      created_at=network.created_at)


def location_out(ip: str, location: Location) -> LocationOut:
    if isinstance(location, Located):
        address = ValidatedAddress(location.civic, location.msag_id, location.esn)
        return LocationOut(ip=ip, located=True, source=location.source.value,  # type: ignore[arg-type]
                           reason=None, address_id=location.address_id,
                           network=location.network, network_id=location.network_id,
                           address=address_out(address))
    return LocationOut(ip=ip, located=False, source=None, reason=location.reason.value,
                       address_id=None, network=None, network_id=None, address=None)

