"""Oversized and odd emergency INVITEs through the front (issue 13, findings 2-5).

The pjsua2 wheel reads only the first 4,000 bytes of a UDP message and cannot send one larger
than that (docs/sip-worker.md, "Message size"). A PBX 911 of 5, 16 or 64 KB (padding headers,
SDP offers of 2 and 8 KB, an SDP no parser accepts) must still reach the PSAP with THAT
device's address, the caller's callback number and the caller's own SDP; a device on an
unbound address claiming a located user's number must never get that user's address; no
worker may abort and no trunk attempt may loop. SIPp caller (from a PBX peer, 127.0.0.2) and
SIPp trunks, Kamailio and two real workers on loopback.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from router.db import schema
from tests.support.paths import SCENARIOS
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.processes import wait_until
from tests.support.router_run import RouterRun, requires_kamailio, running_router
from tests.support.seeded_store import OFFICE, PBX_PHONE_CALLBACK, PBX_PHONE_IP, USER_CALLBACK
from tests.support.sipp import Uas, run_uac, uas_trunks

pytestmark = [pytest.mark.scenario, requires_kamailio]

PADDED = SCENARIOS / "uac" / "uac-911-padded-expect-200.xml"
"""The caller: -set device_ip, pad (header lines) and sdp (the body as given)."""

PBX = {"E911_PBX_PEERS": "127.0.0.2/32", "E911_KAMAILIO_CHILDREN": "1"}
UNBOUND_DEVICE = "10.99.0.5"


def _sdp(tag: str, size: int) -> str:
    """An audio offer of about `size` bytes: ICE candidates (what makes WebRTC offers large),
    each line naming `tag` so the PSAP's copy can be matched line by line."""
    lines = ["v=0", f"o={tag} 53655765 2353687637 IN IP4 127.0.0.2", "s=-",
             "c=IN IP4 127.0.0.2", "t=0 0", "m=audio 40000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000"]
    k = 0
    while sum(len(line) + 2 for line in lines) < size:
        k += 1
        lines.append(f"a=candidate:{k} 1 UDP 2122252543 127.0.0.2 {40000 + k} typ host "
                     f"generation 0 ufrag {tag}")
    return "\r\n".join(lines) + "\r\n"


def _unparseable_sdp(tag: str) -> str:
    """A body labelled application/sdp that no SDP parser accepts (RFC 4566 s5: o= and m= are
    malformed), as a broken gateway sends it."""
    return f"v=0\r\no={tag}\r\ns=-\r\nm=audio port RTP/AVP\r\nc=IN IP4\r\n"


def _opus_only_sdp(tag: str) -> str:
    """A valid WebRTC-style offer with no codec the wheel has (Opus only): PJSUA answers 488
    itself before the worker decides, so the front retries with the body withheld."""
    return (f"v=0\r\no={tag} 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
            "m=audio 40000 RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n")


def _padding(total: int, sdp: str) -> str:
    """X-Pad-N header lines so the whole INVITE is about `total` bytes."""
    budget = total - len(sdp) - 600
    lines: list[str] = []
    k = 0
    while budget > 0:
        k += 1
        line = f"X-Pad-{k}: " + "p" * min(200, max(budget - 14, 1))
        lines.append(line)
        budget -= len(line) + 2
    return "\r\n".join(lines) if lines else "X-Pad-0: none"


@dataclass(frozen=True)
class Case:
    name: str
    total: int
    sdp: str


def _cases(prefix: str) -> list[Case]:
    return [
        Case("2k-sdp", 0, _sdp(f"{prefix}a", 2_000)),
        Case("5k", 5_000, _sdp(f"{prefix}b", 300)),
        Case("16k-2k-sdp", 16_000, _sdp(f"{prefix}c", 2_000)),
        Case("64k-8k-sdp", 64_000, _sdp(f"{prefix}d", 8_000)),
        Case("5k-unparseable-sdp", 5_000, _unparseable_sdp(f"{prefix}e")),
        Case("unparseable-sdp", 0, _unparseable_sdp(f"{prefix}f")),
        Case("opus-only-sdp", 0, _opus_only_sdp(f"{prefix}g")),
    ]


def _call(router: RouterRun, tmp_path: Path, case: Case, *, device: str, csv: str) -> None:
    # run_uac names the scenario relative to sipp-scenarios/uac/ and its message files after
    # it: an absolute path to a copy in tmp_path keeps both there, out of the repository.
    scenario = tmp_path / PADDED.name
    if not scenario.exists():
        shutil.copyfile(PADDED, scenario)
    result = run_uac(str(scenario.with_suffix("")), router.sip_port, tmp_path, service="911",
                     caller_csv=csv, source_ip="127.0.0.2", timeout=30,
                     variables={"device_ip": device, "pad": _padding(case.total, case.sdp),
                                "sdp": case.sdp})
    assert result.ok, f"{case.name}: {result.errors[-1500:]}"


def _invite_with(uas: Uas, marker: str) -> str:
    found: list[str] = []

    def seen() -> bool:
        found[:] = [m for m in uas.invites() if marker in m]
        return bool(found)

    wait_until(seen, 10, f"an INVITE with {marker} at :{uas.port}")
    assert len(found) == 1, f"{len(found)} INVITEs with {marker}"
    return found[0]


def _sdp_lines_kept(caller_sdp: str, received_sdp: str) -> list[str]:
    """The caller's SDP lines missing from what the trunk received (hlang may be added)."""
    got = set(re.split(r"\r?\n", received_sdp))
    return [line for line in caller_sdp.split("\r\n") if line and line not in got]


def _notices(store_url: str) -> int:
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(
                schema.notifications)).scalar_one())
    finally:
        engine.dispose()


def _no_worker_died(router: RouterRun) -> None:
    exits = [e for e in router.events if e.get("event") in (
        "e911.supervisor.child_exited", "e911.supervisor.restarted")]
    if exits:
        first = router.events.index(exits[0])
        context = [e for e in router.events[max(0, first - 30):first]
                   if e.get("level") in ("error", "warning", "critical")]
        raise AssertionError(f"{exits}\nbefore: {context}\n" + "\n".join(router.lines[-15:]))
    aborted = [line for line in router.lines if "Assertion" in line]
    assert aborted == [], aborted


def _no_attempt_loop(router: RouterRun, calls: int) -> None:
    """Each call tries each trunk at most once (a PSAP and the sorting center): never the
    22-44 `e911.trunk.attempt` lines of one call that PJSIP_EMSGTOOLONG used to cause."""
    attempts = router.count("e911.trunk.attempt")
    assert attempts <= 2 * calls, f"{attempts} trunk attempts for {calls} calls"


def test_oversized_911s_from_a_located_pbx_phone_reach_the_psap_with_location_and_sdp(
    front_store_url: str, tmp_path: Path
) -> None:
    """5, 16 and 64 KB INVITEs, 2 and 8 KB SDP offers, unparseable SDPs and an Opus-only offer
    (PJSUA answers it 488 itself) from a PBX phone whose device-IP header names its bound
    address: each reaches the PSAP with a schema-valid PIDF-LO of that device's address, its
    callback number and the caller's SDP, whichever path carried it (auto: bridge or front);
    no worker aborts, no trunk attempt loops."""
    cases = _cases("big")
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer", calls=0) as (
            psap, sorting), \
            running_router({**PBX, "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
        for case in cases:
            _call(router, tmp_path, case, device=PBX_PHONE_IP, csv="callers-pbx-phone.csv")
        for case in cases:
            marker = case.sdp.split("\r\n")[1]  # the o= line names the case
            invite = _invite_with(psap, marker)
            captured = assert_emergency_invite(invite, InviteExpectation(
                callback_number=PBX_PHONE_CALLBACK, has_location=True, civic=OFFICE))
            assert _sdp_lines_kept(case.sdp, captured.body.sdp or "") == [], case.name
            assert "X-Pad-1:" not in invite and "X-E911-" not in invite, case.name
            assert len(invite.encode()) < 65_000, case.name
        assert sorting.invites() == []
        _no_worker_died(router)
        _no_attempt_loop(router, len(cases))
    # One Kari's Law notice a call, also for the one PJSUA refused first and the front sent
    # again (the Opus offer): the router is stopped, so every notice is written.
    assert _notices(front_store_url) == len(cases)


def test_front_path_oversized_911s_keep_the_device_and_never_abort_a_worker(
    front_store_url: str, tmp_path: Path
) -> None:
    """E911_EMERGENCY_PATH=front (where a worker used to abort on an oversized 911): the
    located PBX phone's 5/16/64 KB and unparseable-SDP 911s reach the PSAP with its address;
    a device on an unbound address claiming located user 1001 (bound to 127.0.0.1, the front's
    own address) reaches the sorting center with 1001's callback number and no location, at
    0.5, 5 and 64 KB. No worker exits."""
    located = [c for c in _cases("frt") if c.total]
    unbound = [Case("small", 0, _sdp("unba", 300)), Case("5k", 5_000, _sdp("unbb", 300)),
               Case("64k", 64_000, _sdp("unbc", 8_000))]
    with uas_trunks(tmp_path, "uas-psap-answer", "uas-psap-answer", calls=0) as (
            psap, sorting), \
            running_router({**PBX, "E911_EMERGENCY_PATH": "front",
                            "E911_DATABASE_URL": front_store_url,
                            "E911_TRUNK_PSAP": psap.uri,
                            "E911_TRUNK_SORTING_CENTER": sorting.uri}, tmp_path) as router:
        for case in located:
            _call(router, tmp_path, case, device=PBX_PHONE_IP, csv="callers-pbx-phone.csv")
        for case in unbound:
            _call(router, tmp_path, case, device=UNBOUND_DEVICE, csv="callers-located.csv")
        for case in located:
            invite = _invite_with(psap, case.sdp.split("\r\n")[1])
            captured = assert_emergency_invite(invite, InviteExpectation(
                callback_number=PBX_PHONE_CALLBACK, has_location=True, civic=OFFICE))
            assert _sdp_lines_kept(case.sdp, captured.body.sdp or "") == [], case.name
        for case in unbound:
            marker = case.sdp.split("\r\n")[1]
            assert not [m for m in psap.invites() if marker in m], case.name
            invite = _invite_with(sorting, marker)
            assert_emergency_invite(invite, InviteExpectation(
                callback_number=USER_CALLBACK, has_location=False))
            assert "pidf" not in invite.lower(), case.name
        _no_worker_died(router)
        _no_attempt_loop(router, len(located) + len(unbound))
