"""Administrators' network map (most specific wins) and users' own emergency information."""

from __future__ import annotations

import httpx

from tests.support.api_server import UserClient, wss


def test_network_map_most_specific_wins_and_user_binding_wins_over_both(
    admin: httpx.Client, user_client: UserClient,
) -> None:
    """/16 and /24 both contain the phone: the /24's address applies; a binding of the
    user's own on that network outranks the map."""
    campus = admin.post("/v1/networks", json={"cidr": "10.20.0.0/16", "label": "campus",
                                              "address": wss(house_number="301")})
    assert campus.status_code == 201, campus.text
    assert campus.headers["location"] == f"/v1/networks/{campus.json()['id']}"
    floor = admin.post("/v1/networks", json={"cidr": "10.20.3.0/24", "label": "floor 3",
                                             "address": wss(house_number="305",
                                                            street2="Floor 3")})
    assert floor.status_code == 201
    assert (floor.json()["cidr"], floor.json()["address"]["floor"],
            floor.json()["address_id"]) == ("10.20.3.0/24", "3", None)

    def located(ip: str) -> dict[str, object]:
        body: dict[str, object] = admin.get("/v1/users/2001/location",
                                            params={"ip": ip}).json()
        return body

    on_floor = located("10.20.3.9")
    assert (on_floor["source"], on_floor["network"], on_floor["network_id"]) == (
        "network", "10.20.3.0/24", floor.json()["id"])
    assert located("10.20.9.9")["network_id"] == campus.json()["id"]
    assert located("10.21.0.1")["located"] is False

    phone = user_client("2001")
    own = phone.post("/v1/users/2001/emergency-addresses", json=wss(house_number="309"))
    admin.put(f"/v1/users/2001/emergency-addresses/{own.json()['id']}/registered-ip",
              json={"ip": "10.20.3.9"})
    mine = located("10.20.3.9")
    assert (mine["source"], mine["address_id"]) == ("binding", own.json()["id"])

    listed = admin.get("/v1/networks", params={"limit": 1})
    assert [n["id"] for n in listed.json()["data"]] == [campus.json()["id"]]
    assert listed.json()["has_more"] is True
    assert admin.get(f"/v1/networks/{floor.json()['id']}").json() == floor.json()
    assert admin.delete(f"/v1/networks/{floor.json()['id']}").status_code == 204
    assert located("10.20.4.1")["network_id"] == campus.json()["id"]
    assert admin.get(f"/v1/networks/{floor.json()['id']}").status_code == 404


def test_network_errors(admin: httpx.Client, user_client: UserClient) -> None:
    """Host bits set, both address and address_id, a duplicate CIDR, a saved address in use."""
    host_bits = admin.post("/v1/networks", json={"cidr": "10.0.0.1/8", "address": wss()})
    assert host_bits.status_code == 422
    assert host_bits.json()["error"]["fields"] == [{
        "field": "cidr", "code": "invalid_cidr", "suggestions": [],
        "message": "'10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?"}]
    phone = user_client("2001")
    saved = phone.post("/v1/users/2001/emergency-addresses", json=wss()).json()["id"]
    both = admin.post("/v1/networks", json={"cidr": "10.0.0.0/8", "address": wss(),
                                            "address_id": saved})
    assert both.status_code == 422
    assert both.json()["error"]["fields"][0]["code"] == "address_or_address_id"
    by_id = admin.post("/v1/networks", json={"cidr": "10.0.0.0/8", "address_id": saved})
    assert by_id.status_code == 201
    assert by_id.json()["address_id"] == saved
    duplicate = admin.post("/v1/networks", json={"cidr": "10.0.0.0/8", "address": wss()})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == {"type": "conflict", "fields": [],
                                         "message": "network 10.0.0.0/8 is already mapped"}
    in_use = phone.delete(f"/v1/users/2001/emergency-addresses/{saved}")
    assert in_use.status_code == 409
    assert in_use.json()["error"]["type"] == "conflict"
    unknown = admin.post("/v1/networks", json={"cidr": "10.9.0.0/16",
                                               "address_id": "adr_nothing"})
    assert unknown.status_code == 404


def test_user_put_get_delete(admin: httpx.Client, user_client: UserClient) -> None:
    """PUT creates (201) then replaces (200); the user may update itself; DELETE is 204."""
    created = admin.put("/v1/users/3001", json={
        "display_name": "Chloé Dupont", "callback_number": "514 555 0199", "language": "fr",
        "callback_preference": "own"})
    assert created.status_code == 201
    body = created.json()
    assert {k: body[k] for k in ("user", "display_name", "callback_number", "language",
                                 "callback_preference")} == {
        "user": "3001", "display_name": "Chloé Dupont", "callback_number": "+15145550199",
        "language": "fr", "callback_preference": "own"}
    phone = user_client("3001")
    updated = phone.put("/v1/users/3001", json={"display_name": "Chloe", "language": "en"})
    assert updated.status_code == 200
    assert (updated.json()["callback_number"], updated.json()["callback_preference"]) == (
        None, "account")
    assert phone.get("/v1/users/3001").json()["display_name"] == "Chloe"
    own_without_number = phone.put("/v1/users/3001", json={"callback_preference": "own"})
    assert own_without_number.status_code == 422
    assert own_without_number.json()["error"]["fields"][0]["code"] == "needs_callback_number"
    assert admin.get("/v1/users").json()["data"][0]["user"] == "3001"
    assert admin.delete("/v1/users/3001").status_code == 204
    assert admin.get("/v1/users/3001").status_code == 404
    assert admin.delete("/v1/users/3001").status_code == 404
    bad_name = admin.put("/v1/users/a%20b", json={})
    assert bad_name.status_code == 400
    assert bad_name.json()["error"]["fields"][0]["field"] == "user"
