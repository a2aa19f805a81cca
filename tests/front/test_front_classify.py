"""The front's own classification: with no worker up, Kamailio alone decides. Emergency and
test strings (every form the dial plan reads) go to the sorting center / test trunk; anything
else, however close to 911, is shed with 503 and never reaches them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.router_run import front_only, requires_kamailio, send_invite
from tests.support.sipp import start_uas

pytestmark = [pytest.mark.scenario, requires_kamailio]

EMERGENCY = ("sip:911@pbx.example", "sip:9-911@pbx.example;user=phone", "sip:%39%31%31@pbx",
             "sip:911;phone-context=+1@pbx.example;user=phone", "tel:911", "tel:+1-911",
             "sip:+1911@pbx.example;user=phone", "sip:0911@10.0.0.1:5080", "urn:service:sos",
             "URN:SERVICE:SOS.FIRE", "sip:911", "sip:112@pbx.example")
TEST = ("sip:933@pbx.example", "sip:8933@pbx.example", "urn:service:test.sos")
OTHERS = ("sip:9115551234@pbx.example", "sip:91100@pbx.example", "sip:99911@pbx.example",
          "sip:911911@pbx.example", "sip:9112@pbx.example", "sip:1120@pbx.example",
          "sip:4065551234@pbx.example", "urn:service:counseling", "sip:alice@pbx.example")


def _to_headers(invites: list[str]) -> list[str]:
    return [re.search(r"^To: <([^>]*)>", invite, re.M).group(1)  # type: ignore[union-attr]
            for invite in invites]


def test_front_alone_routes_exactly_the_emergency_strings(tmp_path: Path) -> None:
    """Whole-string matching in every form: 911 forms (and the extra 112) reach the sorting
    center, 933 forms the test trunk, the rest get the front's 503."""
    sorting = start_uas("uas-trunk-503", tmp_path)
    test = start_uas("uas-trunk-503", tmp_path)
    try:
        with front_only({"E911_TRUNK_SORTING_CENTER": sorting.uri, "E911_TRUNK_TEST": test.uri,
                         "E911_EXTRA_EMERGENCY_NUMBERS": "112"}, tmp_path) as front:
            statuses = {uri: send_invite(front.sip_port, uri) for uri in
                        EMERGENCY + TEST + OTHERS}
            # The trunks' 503 comes back as 500: a proxy never relays a 503 (RFC 3261 s16.7
            # step 6); the front's own "no worker" answer is 503 + Retry-After.
            assert {uri: statuses[uri] for uri in EMERGENCY + TEST} == dict.fromkeys(
                EMERGENCY + TEST, 500)
            assert {uri: statuses[uri] for uri in OTHERS} == dict.fromkeys(OTHERS, 503)
            assert _to_headers(sorting.wait_invites(len(EMERGENCY))) == list(EMERGENCY)
            assert _to_headers(test.wait_invites(len(TEST))) == list(TEST)
            assert all(i.startswith("INVITE sip:911@") for i in sorting.invites())
            assert all(i.startswith("INVITE sip:933@") for i in test.invites())
            assert front.count_lines("e911.front.emergency_trunks_exhausted") == len(
                EMERGENCY + TEST)
    finally:
        sorting.stop()
        test.stop()
