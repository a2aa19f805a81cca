"""`/v1/networks`: an administrator's map of on-premises networks (CIDR) to addresses, for
fixed phones (automatic dispatchable location, 47 CFR 9.16(b)(3)). A device with no binding
of its own gets the address of the most specific network containing its IP."""

from __future__ import annotations

from fastapi import APIRouter, Response

from router.api.auth import require_admin
from router.api.checks import check_label
from router.api.deps import Caller, Deps, IdPath, Limit, StartingAfter
from router.api.errors import ApiError, FieldError, error_responses, invalid
from router.api.models import NetworkIn, NetworkOut, NetworkPage, network_out
from router.api.msag_cache import validated_or_422
from router.location.bindings import parse_cidr
from router.location.model import ValidatedAddress

router = APIRouter(prefix="/v1/networks", tags=["networks"])


@router.post("", response_model=NetworkOut, status_code=201,
             responses=error_responses(400, 401, 403, 404, 409, 413, 422))
def create_network(body: NetworkIn, who: Caller, s: Deps, response: Response) -> NetworkOut:
    """Map a CIDR to an address validated against the MSAG, or to a saved address (by id)."""
    require_admin(who)
    errors: list[FieldError] = []
    label, found = check_label("label", body.label)
    errors += found
    try:
        cidr = str(parse_cidr(body.cidr))
    except ValueError as exc:
        errors.append(FieldError("cidr", "invalid_cidr", str(exc)))
        cidr = ""
    address: ValidatedAddress | None = None
    if (body.address is None) == (body.address_id is None):
        errors.append(FieldError("address", "address_or_address_id",
                                 "give exactly one of address or address_id"))
    elif body.address is not None:
        try:
            address = validated_or_422(s.msag.validate(body.address.to_input()), "address.")
        except ApiError as exc:
            errors += exc.fields
    if errors:
        raise invalid(errors)
    network = s.store.add_network(who.account_id, cidr, address=address,
                                  address_id=body.address_id, label=label)
    response.headers["Location"] = f"/v1/networks/{network.id}"
    return network_out(network)


@router.get("", response_model=NetworkPage, responses=error_responses(400, 401, 403))
def list_networks(who: Caller, s: Deps, limit: Limit = 20,
                  starting_after: StartingAfter = None) -> NetworkPage:
    require_admin(who)
    page = s.store.list_networks(who.account_id, limit=limit, starting_after=starting_after)
    return NetworkPage(data=[network_out(n) for n in page.data], has_more=page.has_more)


@router.get("/{network_id}", response_model=NetworkOut,
            responses=error_responses(400, 401, 403, 404))
def get_network(network_id: IdPath, who: Caller, s: Deps) -> NetworkOut:
    require_admin(who)
    return network_out(s.store.get_network(who.account_id, network_id))


@router.delete("/{network_id}", status_code=204, response_class=Response,
               responses=error_responses(400, 401, 403, 404))
def delete_network(network_id: IdPath, who: Caller, s: Deps) -> Response:
    require_admin(who)
    s.store.delete_network(who.account_id, network_id)
    return Response(status_code=204)
