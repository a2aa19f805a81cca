"""A user's saved emergency addresses (DialStack's SDK semantics), their network bindings,
and which address applies on a network.

- `POST` validates synchronously against the MSAG: 201 with the normalised address and its
  id, or 422 with field errors and suggestions, and nothing stored.
- `GET` lists with cursor pagination (`limit`, `starting_after` = the last id seen) as
  `{"data": [...], "has_more": bool}`, oldest first.
- `PUT .../registered-ip` binds the address to the network the device is on: the request's
  source address (the softphone connecting), or `ip` in the body from an administrator token
  (a PBX or provisioning system acting for the device). `DELETE` drops the binding; the
  address stays saved and re-binds when registered again.
- `GET /v1/users/{user}/location?ip=` answers what a 911 call from that IP would carry.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from router.api.auth import require_user
from router.api.checks import check_label
from router.api.deps import Caller, Deps, IdPath, Limit, StartingAfter, UserPath, source_ip
from router.api.errors import (
    ApiError,
    ErrorType,
    FieldError,
    error_responses,
    forbidden,
    invalid,
)
from router.api.models import (
    AddressPage,
    CreatedAddressOut,
    FieldIssueOut,
    LocationOut,
    RegisteredIpIn,
    SavedAddressIn,
    SavedAddressOut,
    location_out,
    saved_out,
)
from router.api.msag_cache import validated_or_422, warnings_json
from router.location.bindings import parse_ip

router = APIRouter(prefix="/v1/users/{user}", tags=["emergency addresses"])


@router.post("/emergency-addresses", response_model=CreatedAddressOut, status_code=201,
             responses=error_responses(400, 401, 403, 413, 422))
def create_address(user: UserPath, body: SavedAddressIn, who: Caller, s: Deps,
                   response: Response) -> CreatedAddressOut:
    """Validate an address against the MSAG and save it for the user."""
    require_user(who, user)
    errors: list[FieldError] = []
    label, found = check_label("label", body.label)
    errors += found
    result = s.msag.validate(body.to_input())
    try:
        address = validated_or_422(result)
    except ApiError as exc:
        raise invalid([*errors, *exc.fields], exc.message) from None
    if errors:
        raise invalid(errors)
    saved = s.store.add_address(who.account_id, user, address, label=label)
    response.headers["Location"] = f"/v1/users/{user}/emergency-addresses/{saved.id}"
    out = saved_out(saved)
    return CreatedAddressOut(**out.model_dump(),
                             warnings=[FieldIssueOut.model_validate(w)
                                       for w in warnings_json(result)])


@router.get("/emergency-addresses", response_model=AddressPage,
            responses=error_responses(400, 401, 403))
def list_addresses(user: UserPath, who: Caller, s: Deps, limit: Limit = 20,
                   starting_after: StartingAfter = None) -> AddressPage:
    """The user's saved addresses, oldest first, a page at a time."""
    require_user(who, user)
    page = s.store.list_addresses(who.account_id, user, limit=limit,
                                  starting_after=starting_after)
    return AddressPage(data=[saved_out(a) for a in page.data], has_more=page.has_more)


@router.get("/emergency-addresses/{address_id}", response_model=SavedAddressOut,
            responses=error_responses(400, 401, 403, 404))
def get_address(user: UserPath, address_id: IdPath, who: Caller, s: Deps) -> SavedAddressOut:
    require_user(who, user)
    return saved_out(s.store.get_address(who.account_id, user, address_id))


@router.delete("/emergency-addresses/{address_id}", status_code=204, response_class=Response,
               responses=error_responses(400, 401, 403, 404, 409))
def delete_address(user: UserPath, address_id: IdPath, who: Caller, s: Deps) -> Response:
    """Delete a saved address and its binding (409 while an administrator's network points
    at it)."""
    require_user(who, user)
    s.store.delete_address(who.account_id, user, address_id)
    return Response(status_code=204)


@router.put("/emergency-addresses/{address_id}/registered-ip", response_model=SavedAddressOut,
            responses=error_responses(400, 401, 403, 404, 413, 422))
def bind_address(user: UserPath, address_id: IdPath, who: Caller, s: Deps, request: Request,
                 body: RegisteredIpIn | None = None) -> SavedAddressOut:
    """Bind the address to the device's network (the request's source address, or `ip`
    from an administrator). Another address of the user bound to that network is unbound."""
    require_user(who, user)
    if body is not None and body.ip is not None:
        if not who.is_admin:
            raise forbidden("only an administrator token may name the ip; a device binds "
                            "from its own address")
        ip = body.ip
    else:
        ip = source_ip(request)
    try:
        parse_ip(ip)
    except ValueError:
        raise invalid([FieldError("ip", "invalid_ip", f"{ip!r} is not an IP address")]) \
            from None
    s.store.bind(who.account_id, user, address_id, ip)
    return saved_out(s.store.get_address(who.account_id, user, address_id))


@router.delete("/emergency-addresses/{address_id}/registered-ip",
               response_model=SavedAddressOut, responses=error_responses(400, 401, 403, 404))
def clear_binding(user: UserPath, address_id: IdPath, who: Caller,
                  s: Deps) -> SavedAddressOut:
    """Drop the address's binding, so it registers wherever the device next connects."""
    require_user(who, user)
    s.store.clear_binding(who.account_id, user, address_id)
    return saved_out(s.store.get_address(who.account_id, user, address_id))


IpQuery = Annotated[str | None, Query(max_length=64, description="The device IP; default: "
                                                                  "the request's source")]


@router.get("/location", response_model=LocationOut, responses=error_responses(400, 401, 403))
def locate(user: UserPath, who: Caller, s: Deps, request: Request,
           ip: IpQuery = None) -> LocationOut:
    """Which address a call from this user at `ip` would carry: the user's address bound to
    that network, else the most specific administrator network containing it, else none."""
    require_user(who, user)
    address = ip if ip is not None else source_ip(request)
    try:
        parse_ip(address)
    except ValueError:
        raise ApiError(400, ErrorType.INVALID_REQUEST, f"{address!r} is not an IP address",
                       (FieldError("ip", "invalid_ip", f"{address!r} is not an IP address"),)
                       ) from None
    return location_out(address, s.store.locate(who.account_id, user, address))
