"""plan_call: the routing table of DESIGN.md as data (no pjsua2, no I/O)."""

from __future__ import annotations

import pytest

from dialplan import CallClass, classify
from router.call.modes import AnnounceMode, NormalCallMode
from router.call.plan import (
    ADDRESS_NOT_REGISTERED,
    Action,
    CallbackIdentity,
    Purpose,
    RoutingPolicy,
    plan_call,
    with_user,
)
from router.language import Language
from router.location.civic import CivicAddress
from router.location.model import (
    Callback,
    CallbackPreference,
    CallerContext,
    Located,
    LocationSource,
    Unlocated,
    UnlocatedReason,
)
from router.settings import load_settings

POLICY = RoutingPolicy(
    trunk_psap=("sip:psap1.example:5060", "sip:psap2.example:5060;transport=tcp"),
    trunk_sorting_center=("sip:sorting.example",),
    trunk_test=("sip:test933.example",),
    trunk_outbound="sip:carrier.example:5060",
)
HERE = Located(
    address_id="adr_1",
    civic=CivicAddress(country="US", state="MT", street_name="LARAMIE", house_number="105"),
    msag_id="M1", esn="101", source=LocationSource.BINDING, network="10.0.0.0/24",
)
NOWHERE = Unlocated(UnlocatedReason.NO_BINDING)
ENABLED = CallerContext(
    loaded=True, account_known=True, account_enabled=True, account_language="en",
    account_callback=Callback("Acme Dispatch", "+14065550100", "en"),
    user_known=True, user_display_name="Ada Lovelace!", user_callback_number="+14065551001",
    user_language="fr", callback_preference=CallbackPreference.OWN,
)
DISABLED = CallerContext(loaded=True, account_known=True, account_enabled=False)


def test_plan_911_located_hunts_psaps_then_sorting_center() -> None:
    """911 with a location: every PSAP trunk in order, then the sorting center, no stop codes."""
    plan = plan_call(classify("sip:911@pbx"), HERE, ENABLED, POLICY)
    assert plan.action is Action.BRIDGE
    assert [(a.request_uri, a.purpose) for a in plan.attempts] == [
        ("sip:911@psap1.example:5060", Purpose.PSAP),
        ("sip:911@psap2.example:5060;transport=tcp", Purpose.PSAP),
        ("sip:911@sorting.example", Purpose.SORTING_CENTER),
    ]
    assert plan.stop_codes == frozenset()
    assert plan.location is HERE
    assert plan.callback == CallbackIdentity("Ada Lovelace", "+14065551001")
    assert plan.language is Language.FR


def test_plan_911_unlocated_goes_only_to_sorting_center() -> None:
    """911 without a location: the sorting center, with the callback identity, no PIDF-LO."""
    plan = plan_call(classify("sip:9911@pbx"), NOWHERE, ENABLED, POLICY)
    assert [a.purpose for a in plan.attempts] == [Purpose.SORTING_CENTER]
    assert plan.location is None
    assert plan.callback == CallbackIdentity("Ada Lovelace", "+14065551001")


def test_plan_911_for_account_not_enabled_goes_to_sorting_center() -> None:
    """An account whose E911 settings are not enabled sends 911 to the sorting center."""
    plan = plan_call(classify("sip:911@pbx"), HERE, DISABLED, POLICY)
    assert [a.purpose for a in plan.attempts] == [Purpose.SORTING_CENTER]
    assert plan.location is None
    assert plan.callback == CallbackIdentity("", "")


@pytest.mark.parametrize("location", [HERE, NOWHERE])
def test_plan_933_goes_to_test_trunk_either_way(location: Located | Unlocated) -> None:
    """933 is never blocked: test trunk, Request-URI user 933, location when known."""
    plan = plan_call(classify("sip:933@pbx"), location, ENABLED, POLICY)
    assert plan.call_class is CallClass.EMERGENCY_TEST
    assert [(a.request_uri, a.purpose) for a in plan.attempts] == [
        ("sip:933@test933.example", Purpose.TEST)]
    assert plan.location is (HERE if location is HERE else None)


def test_plan_every_emergency_plan_ends_at_sorting_center() -> None:
    """Whatever the caller context, the last attempt of a 911 plan is the sorting center."""
    for location in (HERE, NOWHERE):
        for caller in (ENABLED, DISABLED, CallerContext(loaded=False)):
            plan = plan_call(classify("urn:service:sos"), location, caller, POLICY)
            assert plan.attempts[-1].purpose is Purpose.SORTING_CENTER
            assert all(plan.hunts_on(code) for code in (404, 408, 486, 500, 503, 603))


def test_plan_normal_located_redirects_to_outbound_with_dialled_number() -> None:
    """A located normal call: 302 to the outbound route with the normalised number."""
    plan = plan_call(classify("sip:94065550123@pbx"), HERE, ENABLED, POLICY)
    assert (plan.action, plan.redirect_uri) == (
        Action.REDIRECT, "sip:+14065550123@carrier.example:5060")


def test_plan_normal_located_bridge_mode_hunts_only_on_408_and_5xx_6xx() -> None:
    """E911_NORMAL_CALL_MODE=bridge: one outbound attempt; 486 stops, 503 hunts."""
    policy = RoutingPolicy(**{**_fields(POLICY), "normal_call_mode": NormalCallMode.BRIDGE})
    plan = plan_call(classify("sip:4065550123@pbx"), HERE, ENABLED, policy)
    assert plan.action is Action.BRIDGE
    assert [(a.request_uri, a.purpose) for a in plan.attempts] == [
        ("sip:+14065550123@carrier.example:5060", Purpose.OUTBOUND)]
    assert (plan.hunts_on(486), plan.hunts_on(404), plan.hunts_on(408), plan.hunts_on(503),
            plan.hunts_on(603)) == (False, False, True, True, True)


def test_plan_normal_unlocated_announces_and_refuses_with_reason() -> None:
    """An unlocated normal call: announcement then 403 "Emergency address not registered"."""
    plan = plan_call(classify("sip:4065550123@pbx"), NOWHERE, ENABLED, POLICY)
    assert (plan.action, plan.status, plan.reason, plan.announce_mode, plan.language) == (
        Action.ANNOUNCE_BLOCK, 403, ADDRESS_NOT_REGISTERED, AnnounceMode.EARLY, Language.FR)


def test_plan_unknown_caller_gets_default_language() -> None:
    """No caller data at all: the announcement is in E911_DEFAULT_LANGUAGE."""
    policy = RoutingPolicy(**{**_fields(POLICY), "default_language": Language.ES})
    plan = plan_call(classify("sip:4065550123@pbx"), NOWHERE, CallerContext(loaded=True),
                     policy)
    assert plan.language is Language.ES


def test_plan_invalid_target_is_rejected_404() -> None:
    """A target that is no number is refused with 404."""
    plan = plan_call(classify("sip:abc@pbx"), HERE, ENABLED, POLICY)
    assert (plan.action, plan.status) == (Action.REJECT, 404)


def test_plan_display_name_keeps_letters_digits_spaces_only() -> None:
    """Talkdesk's rule: the PAI display name holds only letters, digits and spaces."""
    caller = CallerContext(loaded=True, user_display_name='Bob "<sip:x>"\r\nX: 1',
                           user_callback_number="+14065551001",
                           callback_preference=CallbackPreference.OWN)
    plan = plan_call(classify("sip:911@pbx"), HERE, caller, POLICY)
    assert plan.callback == CallbackIdentity("Bob sip x X 1", "+14065551001")


def test_routing_policy_from_settings_defaults_test_trunk_to_psap() -> None:
    """E911_TRUNK_TEST unset: 933 uses the PSAP trunk list."""
    settings = load_settings({"E911_TRUNK_PSAP": "sip:10.0.0.1:5060,sip:10.0.0.2:5060"})
    policy = settings.routing_policy()
    assert policy.trunk_test == ("sip:10.0.0.1:5060", "sip:10.0.0.2:5060")


@pytest.mark.parametrize(("trunk", "user", "uri"), [
    ("sip:host:5060", "911", "sip:911@host:5060"),
    ("sip:old@host;transport=tcp", "933", "sip:933@host;transport=tcp"),
    ("sips:[2001:db8::1]:5061", "911", "sips:911@[2001:db8::1]:5061"),
])
def test_with_user_puts_user_into_trunk_uri(trunk: str, user: str, uri: str) -> None:
    """The trunk URI keeps its host, port and parameters and takes the Request-URI user."""
    assert with_user(trunk, user) == uri


def _fields(policy: RoutingPolicy) -> dict[str, object]:
    return {name: getattr(policy, name) for name in policy.__slots__}  # type: ignore[attr-defined]
