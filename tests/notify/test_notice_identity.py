"""One caller identity (issue 18): the notice the contacts are e-mailed names the caller with
the display name and callback number of the P-Asserted-Identity the PSAP got, is in the
account's callback language, and records whether the account's E911 was disabled. Routed
as a worker routes (dial plan, a real store's in-memory view, plan_call); the PAI is the one
`build_request` puts on the outgoing INVITE."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.call.decide import CallRouter, Routed
from router.call.inbound import parse_invite
from router.call.trunk_request import build_request
from router.location.model import DEFAULT_ACCOUNT_ID, Callback, CallbackPreference
from router.location.view import LocationView
from router.notify.hook import notice_from_route
from router.notify.model import EmergencyCallNotice
from router.settings import load_settings
from router.store.store import Store, open_store
from tests.support.sip_messages import parse_sip_message
from tests.support.stores import validated

HOST = "router.example"
AGENT = "2003"
"""A user with no display name of its own, bound to 127.0.0.1: its softphone says
"Softphone 2003" in From, the PSAP is given the account callback's name."""


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Store]:
    """Account with callback "Acme Support" (Spanish), a contact and E911 on; the agent
    located; 2002 unlocated; 1001 with its own name and number."""
    store = open_store(f"sqlite:///{tmp_path / 'e911.db'}")
    store.set_contacts(DEFAULT_ACCOUNT_ID, ["ops@example.com"])
    store.update_account(DEFAULT_ACCOUNT_ID, default_address=validated(),
                         callback=Callback("Acme Support", "+14065550100", "es"))
    store.update_account(DEFAULT_ACCOUNT_ID, enabled=True)
    store.upsert_user(DEFAULT_ACCOUNT_ID, AGENT)
    store.upsert_user(DEFAULT_ACCOUNT_ID, "1001", display_name="Ada Lovelace",
                      callback_number="+14065551001", callback_preference=CallbackPreference.OWN)
    for user in (AGENT, "1001"):
        saved = store.add_address(DEFAULT_ACCOUNT_ID, user, validated(), label="desk")
        store.bind(DEFAULT_ACCOUNT_ID, user, saved.id, "127.0.0.1")
    store.upsert_user(DEFAULT_ACCOUNT_ID, "2002")
    yield store
    store.close()


def invite(user: str, dialed: str = "911") -> str:
    return (
        f"INVITE sip:{dialed}@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\n"
        f"From: \"Softphone {user}\" <sip:{user}@127.0.0.1>;tag=a\r\n"
        f"To: <sip:{dialed}@127.0.0.1>\r\n"
        f"Call-ID: {user}-{dialed}@pbx\r\n"
        "CSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n\r\n"
    )


Route = Callable[[str], Routed]


@pytest.fixture
def route(seeded: Store) -> Route:
    """Route a 911 from `user` against the store as it is now."""
    settings = load_settings({"E911_TRUNK_PSAP": "sip:127.0.0.1:9",
                              "E911_TRUNK_SORTING_CENTER": "sip:127.0.0.1:8"})

    def run(user: str) -> Routed:
        view = LocationView(seeded)
        view.refresh()
        router = CallRouter(settings.dialplan_config(), view,
                            settings.routing_policy())
        result = router.route(parse_invite(invite(user), "127.0.0.1:5062"), call_ref="call_1")
        assert isinstance(result, Routed)
        return result

    return run


def asserted(routed: Routed) -> tuple[str, str] | None:
    """(display name, number) of the P-Asserted-Identity on the first outgoing INVITE, as
    a PSAP parses it; None when the INVITE carries none."""
    request = build_request(routed, 0, host=HOST)
    raw = (f"INVITE {request.uri} SIP/2.0\r\n"
           + "".join(f"{name}: {value}\r\n" for name, value in request.headers) + "\r\n")
    pai = parse_sip_message(raw).header("P-Asserted-Identity")
    if pai is None:
        return None
    name = pai.split("<", 1)[0].strip().strip('"') if pai.startswith('"') else ""
    number = pai.split("<sip:", 1)[1].split("@", 1)[0]
    return name, number


def notice_of(routed: Routed) -> EmergencyCallNotice:
    notice = notice_from_route(routed, call_ref="call_1",
                               now=datetime(2026, 12, 7, 21, 0, tzinfo=UTC))
    assert notice is not None
    return notice


def test_agent_without_a_display_name_is_named_as_the_psap_got_it(route: Route) -> None:
    """The PSAP gets "Acme Support" (the account callback); the e-mail said "Softphone
    2003" (the From header). Now both say Acme Support and +14065550100."""
    routed = route(AGENT)
    notice = notice_of(routed)
    assert asserted(routed) == ("Acme Support", "+14065550100")
    assert (notice.caller_display_name, notice.callback_number) == (
        "Acme Support", "+14065550100")
    assert notice.address_lines is not None and not notice.e911_disabled


def test_user_with_own_name_and_number_is_named_as_the_psap_got_it(route: Route) -> None:
    """A user's own name and (preferred) number are what the PAI and the e-mail carry."""
    routed = route("1001")
    notice = notice_of(routed)
    assert asserted(routed) == ("Ada Lovelace", "+14065551001") == (
        notice.caller_display_name, notice.callback_number)


def test_nothing_asserted_means_no_name_and_no_number_in_the_notice(
        seeded: Store, route: Route) -> None:
    """No callback anywhere and a non-NANP caller: the INVITE carries no PAI, and the
    notice does not invent one from the From header."""
    seeded.update_account(DEFAULT_ACCOUNT_ID, enabled=False)
    seeded.update_account(DEFAULT_ACCOUNT_ID, callback=None)
    routed = route(AGENT)
    assert asserted(routed) is None
    notice = notice_of(routed)
    assert (notice.caller_display_name, notice.callback_number) == ("", "")


def test_notice_is_in_the_account_callback_language(route: Route) -> None:
    """The account's callback language (es), which the announcement follows, not the
    account row's default (en)."""
    assert notice_of(route(AGENT)).language == "es"
    assert notice_of(route("2002")).language == "es"


def test_e911_disabled_is_recorded_for_a_located_caller(seeded: Store, route: Route) -> None:
    """E911 off: the call goes to the sorting center without the address; the notice says
    the account was disabled (not that no address was known)."""
    seeded.update_account(DEFAULT_ACCOUNT_ID, enabled=False)
    routed = route(AGENT)
    assert routed.plan.location is None
    notice = notice_of(routed)
    assert (notice.address_lines, notice.e911_disabled) == (None, True)
    assert asserted(routed) == (notice.caller_display_name, notice.callback_number)


def test_unlocated_caller_is_not_reported_as_disabled(route: Route) -> None:
    """2002 has no address: no address, E911 not disabled."""
    notice = notice_of(route("2002"))
    assert (notice.address_lines, notice.e911_disabled) == (None, False)


def test_notice_round_trips_through_the_spool_with_its_new_field() -> None:
    """The spool file keeps `e911_disabled`; a file written before it reads as False."""
    original = EmergencyCallNotice(
        call_ref="call_1", account_id=DEFAULT_ACCOUNT_ID,
        placed_at=datetime(2026, 12, 7, 21, 0, tzinfo=UTC), caller_display_name="Acme Support",
        callback_number="+14065550100", address_lines=None, e911_disabled=True, language="es")
    assert EmergencyCallNotice.from_json(original.to_json()) == original
    older = original.to_json().replace(', "e911_disabled": true', "")
    assert "e911_disabled" not in older
    assert EmergencyCallNotice.from_json(older).e911_disabled is False
