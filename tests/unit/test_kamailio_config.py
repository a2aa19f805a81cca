"""The Kamailio front's config: emergency patterns agree with the dial plan, rendering fills
every hole from the settings, and nothing unsafe reaches the config text."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialplan import CallClass, DialPlanConfig, classify
from router.kamailio.front import front_config, front_peers, local_workers
from router.kamailio.patterns import emergency_patterns
from router.kamailio.render import RenderError, render
from router.settings import load_settings
from router.settings_parsers import HostPort

RUN_DIR = Path("/run/e911-test")


def _posix_ere(expression: str) -> re.Pattern[str]:
    """Our expressions use only what POSIX ERE and Python agree on (anchors, groups,
    alternation, bracket expressions, `?`); Kamailio's `=~` is case-insensitive."""
    return re.compile(expression, re.IGNORECASE)


def _class_of(digits: str, config: DialPlanConfig) -> CallClass:
    return classify(digits, config).call_class


@settings(max_examples=400, deadline=None)
@given(
    digits=st.text(alphabet="0123456789", min_size=1, max_size=12),
    plus=st.booleans(),
    prefixes=st.lists(st.sampled_from("0123456789"), unique=True, max_size=10),
    extras=st.lists(st.sampled_from(["112", "999", "000", "110", "15"]), unique=True,
                    max_size=3),
)
def test_patterns_match_exactly_what_the_dial_plan_calls_911_or_933(
    digits: str, plus: bool, prefixes: list[str], extras: list[str]
) -> None:
    """For any digit string, the front's whole-string patterns say emergency / test exactly
    when `dialplan.classify` does: never a prefix match, never a miss."""
    config = DialPlanConfig(access_prefixes=tuple(prefixes), extra_emergency_numbers=tuple(extras))
    patterns = emergency_patterns(config)
    dial = ("+" if plus else "") + digits
    expected = _class_of(dial, config)
    assert bool(_posix_ere(patterns.emergency).fullmatch(dial)) == (
        expected is CallClass.EMERGENCY), dial
    assert bool(_posix_ere(patterns.test).fullmatch(dial)) == (
        expected is CallClass.EMERGENCY_TEST), dial


@pytest.mark.parametrize("dial", ["911", "9911", "0911", "+1911", "112"])
def test_emergency_pattern_matches_911_forms_and_extras(dial: str) -> None:
    """911, X911, +1911 and an operator extra are emergency strings."""
    patterns = emergency_patterns(DialPlanConfig(extra_emergency_numbers=("112",)))
    assert re.fullmatch(patterns.emergency, dial)


@pytest.mark.parametrize("dial", ["9115551234", "91100", "99911", "911911", "9112", "+911"])
def test_emergency_pattern_never_matches_a_longer_number(dial: str) -> None:
    """Numbers that start with or contain 911 are not 911 (docs/dialplan.md)."""
    patterns = emergency_patterns(DialPlanConfig(extra_emergency_numbers=("112",)))
    assert re.fullmatch(patterns.emergency, dial) is None
    assert re.search(patterns.emergency, dial) is None


def test_sos_urn_patterns_take_sub_services_only() -> None:
    """urn:service:sos and sos.* are emergency, test.sos is the test service, others neither."""
    patterns = emergency_patterns(DialPlanConfig())
    sos, test = _posix_ere(patterns.sos_urn), _posix_ere(patterns.test_urn)
    assert sos.match("urn:service:sos") and sos.match("URN:SERVICE:SOS.FIRE")
    assert not sos.match("urn:service:sosx") and not sos.match("urn:service:counseling")
    assert test.match("urn:service:test.sos.fire") and not test.match("urn:service:test.x")


def test_rendered_config_has_every_hole_filled_from_the_settings() -> None:
    """Listen address, workers, trunks, peers and limits all come from the settings."""
    s = load_settings({
        "E911_SIP_LISTEN": "127.0.0.2:5070", "E911_WORKER_LISTEN": "127.0.0.2:6001",
        "E911_WORKERS": "3", "E911_KAMAILIO_REMOTE_WORKERS": "sip:127.0.0.3:6001",
        "E911_TRUSTED_PEERS": "10.0.0.0/24,127.0.0.0/8", "E911_PBX_PEERS": "10.0.0.5/32",
        "E911_TRUNK_SORTING_CENTER": "sip:sc1.example:5060,sip:sc2.example;transport=tcp",
        "E911_KAMAILIO_WORKER_CPS": "250", "E911_DEVICE_IP_HEADER": "X-E911-Device-IP",
        "E911_KAMAILIO_EMERGENCY_WORKERS": "0",
    })
    out = render(front_config(s, RUN_DIR))
    assert "{{" not in out.cfg and "}}" not in out.cfg
    assert "listen=udp:127.0.0.2:5070\nlisten=tcp:127.0.0.2:5070\n" in out.cfg
    assert [line for line in out.dispatcher_list.splitlines() if not line.startswith("#")] == [
        "1 sip:127.0.0.2:6001 0 0", "1 sip:127.0.0.2:6002 0 0", "1 sip:127.0.0.2:6003 0 0",
        "1 sip:127.0.0.3:6001 0 0"]
    assert f'modparam("dispatcher", "list_file", "{RUN_DIR}/dispatcher.list")' in out.cfg
    assert 'modparam("ratelimit", "pipe", "1:TAILDROP:1000")' in out.cfg
    assert '!is_in_subnet("$si", "10.0.0.0/24,127.0.0.0/8")' in out.cfg
    assert 'is_in_subnet("$si", "10.0.0.5/32") && is_present_hf("X-E911-Device-IP")' in out.cfg
    assert '$var(target) = "sip:911@sc1.example:5060";' in out.cfg
    assert '$var(target) = "sip:911@sc2.example;transport=tcp";' in out.cfg
    assert 'if ($var(dial) =~ "^([0123456789]?911|[+]1911)$")' in out.cfg


def test_udp_only_front_disables_tcp() -> None:
    """E911_SIP_TRANSPORTS=udp: Kamailio opens no TCP socket."""
    out = render(front_config(load_settings({"E911_SIP_TRANSPORTS": "udp"}), RUN_DIR))
    assert "listen=tcp:" not in out.cfg and "disable_tcp=yes" in out.cfg


def test_source_limit_zero_leaves_out_the_pike_check() -> None:
    """E911_KAMAILIO_SOURCE_LIMIT=0: no per-sender limit in the route."""
    with_limit = render(front_config(load_settings({}), RUN_DIR)).cfg
    without = render(front_config(load_settings({"E911_KAMAILIO_SOURCE_LIMIT": "0"}),
                                  RUN_DIR)).cfg
    assert "pike_check_req()" in with_limit
    assert "pike_check_req()" not in without


def test_route_cache_is_on_by_default_and_zero_turns_it_off() -> None:
    """E911_KAMAILIO_ROUTE_CACHE_SECONDS sets the entries' lifetime; 0 skips the cache route."""
    on = render(front_config(load_settings({}), RUN_DIR)).cfg
    off = render(front_config(load_settings({"E911_KAMAILIO_ROUTE_CACHE_SECONDS": "0"}),
                              RUN_DIR)).cfg
    assert 'modparam("htable", "htable", "e911_located=>size=14;autoexpire=60;")' in on
    assert "route[ROUTE_CACHE] {\n\tif (!(1 == 1)) {\n\t\treturn;" in on
    assert "route[ROUTE_CACHE] {\n\tif (!(0 == 1)) {\n\t\treturn;" in off


def test_no_trusted_peers_refuses_every_invite() -> None:
    """An empty E911_TRUSTED_PEERS renders a trust check that nobody passes."""
    out = render(front_config(load_settings({"E911_TRUSTED_PEERS": ""}), RUN_DIR)).cfg
    assert "if (1 == 1) {" in out


def test_a_quote_in_a_trunk_uri_cannot_reach_the_config() -> None:
    """Values are checked before they are written inside a Kamailio string."""
    front = front_config(load_settings({}), RUN_DIR)
    with pytest.raises(RenderError):
        render(replace(front, sorting_center=('sip:911@x";exit;"',)))


def test_template_hole_without_a_value_stops_rendering() -> None:
    """A template asking for a value nobody provides is refused, not half rendered."""
    with pytest.raises(RenderError, match="unknown_hole"):
        render(front_config(load_settings({}), RUN_DIR), template="x={{unknown_hole}}\n")


def test_workers_sit_behind_the_front_on_consecutive_ports() -> None:
    """Worker k listens on E911_WORKER_LISTEN's port + k - 1; without a front, from
    E911_SIP_LISTEN's."""
    behind = load_settings({"E911_WORKERS": "3", "E911_WORKER_LISTEN": "127.0.0.1:7001"})
    assert local_workers(behind) == (HostPort("127.0.0.1", 7001), HostPort("127.0.0.1", 7002),
                                     HostPort("127.0.0.1", 7003))
    alone = load_settings({"E911_WORKERS": "2", "E911_FRONT": "none",
                           "E911_SIP_LISTEN": "127.0.0.1:5060"})
    assert local_workers(alone) == (HostPort("127.0.0.1", 5060), HostPort("127.0.0.1", 5061))


def test_workers_behind_the_front_trust_only_the_front() -> None:
    """The front's listen address (or the workers' host when it listens everywhere)."""
    assert front_peers(load_settings({"E911_SIP_LISTEN": "127.0.0.2:5060"})) == (
        ipaddress.ip_network("127.0.0.2/32"),)
    assert front_peers(load_settings({"E911_SIP_LISTEN": "0.0.0.0:5060",
                                      "E911_WORKER_LISTEN": "127.0.0.1:5081"})) == (
        ipaddress.ip_network("127.0.0.1/32"),)


def _set_lines(dispatcher_list: str) -> list[str]:
    return [line for line in dispatcher_list.splitlines() if not line.startswith("#")]


def test_reserved_workers_are_the_last_local_ones_in_set_2() -> None:
    """E911_KAMAILIO_EMERGENCY_WORKERS=2 of 4: workers 3 and 4 form set 2; set 1 keeps workers 1
    and 2 and the remote workers (remote workers are never reserved)."""
    s = load_settings({"E911_WORKERS": "4", "E911_WORKER_LISTEN": "127.0.0.1:6001",
                       "E911_KAMAILIO_EMERGENCY_WORKERS": "2",
                       "E911_KAMAILIO_REMOTE_WORKERS": "sip:127.0.0.3:6001"})
    front = front_config(s, RUN_DIR)
    assert front.workers == ("sip:127.0.0.1:6001", "sip:127.0.0.1:6002", "sip:127.0.0.3:6001")
    assert front.emergency_workers == ("sip:127.0.0.1:6003", "sip:127.0.0.1:6004")
    assert _set_lines(render(front).dispatcher_list) == [
        "1 sip:127.0.0.1:6001 0 0", "1 sip:127.0.0.1:6002 0 0", "1 sip:127.0.0.3:6001 0 0",
        "2 sip:127.0.0.1:6003 0 0", "2 sip:127.0.0.1:6004 0 0"]


def test_emergency_calls_try_set_2_then_set_1_and_ordinary_calls_set_1_only() -> None:
    """With reserved workers, route[WORKER] sends 911/933 through set 2 then set 1 (one
    failover list) and everything else through set 1 alone."""
    cfg = render(front_config(load_settings({"E911_WORKERS": "3"}), RUN_DIR)).cfg
    block = cfg.split("route[WORKER] {\n", 1)[1].split("\n}\n", 1)[0]
    assert "\tif ($avp(e911) > 0 && 1 == 1) {\n" in block
    assert '\t\tif (!ds_select_routes("2=4;1=4", "dst")) {\n' in block
    assert '\t} else if (!ds_select_dst("1", "4")) {\n' in block
    # No active worker: a 911/933 still tries one (ANY_WORKER), an ordinary call is shed.
    assert block.count("route(ANY_WORKER);") == 2
    assert block.count("route(NO_WORKER);") == 1


def test_rate_limit_counts_the_ordinary_workers_only() -> None:
    """The non-emergency pipe is E911_KAMAILIO_WORKER_CPS x the workers that take those calls:
    3 workers with 1 reserved plus 1 remote = 3 ordinary."""
    s = load_settings({"E911_WORKERS": "3", "E911_KAMAILIO_WORKER_CPS": "250",
                       "E911_KAMAILIO_REMOTE_WORKERS": "sip:127.0.0.3:6001"})
    front = front_config(s, RUN_DIR)
    assert front.rate_limit_cps == 750
    cfg = render(front).cfg
    assert 'modparam("ratelimit", "pipe", "1:TAILDROP:750")' in cfg
    assert "# (E911_KAMAILIO_WORKER_CPS x 3 ordinary workers:" in cfg


def test_no_reserved_worker_renders_no_set_2_and_never_selects_it() -> None:
    """0 reserved (the default with 2 workers): the same workers in set 1 as before, no set 2,
    and the emergency branch of route[WORKER] is dead code (`0 == 1`): calls route as before."""
    auto = front_config(load_settings({}), RUN_DIR)
    zero = front_config(load_settings({"E911_WORKERS": "2",
                                       "E911_KAMAILIO_EMERGENCY_WORKERS": "0"}), RUN_DIR)
    assert auto == zero
    assert auto.emergency_workers == ()
    out = render(auto)
    assert _set_lines(out.dispatcher_list) == ["1 sip:127.0.0.1:5081 0 0",
                                               "1 sip:127.0.0.1:5082 0 0"]
    assert "\tif ($avp(e911) > 0 && 0 == 1) {\n" in out.cfg
    assert 'modparam("ratelimit", "pipe", "1:TAILDROP:200")' in out.cfg
