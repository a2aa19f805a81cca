"""scripts/loadlib.py compliance checks: each call is compared with its row of the injection CSV
(right trunk, schema-valid PIDF-LO with the bound address, callback number, the caller's final
answer), and every row that differs is named with what differs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.call.emergency_invite import CallbackIdentity, build_emergency_invite
from router.pidf import to_pidf
from scripts.loadlib import (
    BLOCKED_REASON,
    LOAD,
    CallerAnswer,
    ComplianceRow,
    LoadError,
    TrunkInvite,
    caller_answers,
    caller_errors,
    check_rows,
    compliance_csv_text,
    compliance_rows,
    load_office,
    parse_invite,
    read_compliance_csv,
)
from tests.support.pidf_check import build_raw_invite

OFFICE = load_office()
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
ROWS = [
    ComplianceRow(1, "5000", "911", "psap", "+14065565000", True),
    ComplianceRow(2, "5500", "4065550002", "outbound"),
    ComplianceRow(3, "6050", "4065550003", "blocked"),
    ComplianceRow(4, "7000", "911", "sorting", "+14065567000"),
]
ANSWERS = {1: CallerAnswer(200), 2: CallerAnswer(200), 3: CallerAnswer(403, BLOCKED_REASON),
           4: CallerAnswer(200)}


def emergency(trunk: str, number: str, *, located: bool, call_id: str) -> TrunkInvite:
    pidf = to_pidf(OFFICE.civic, entity=f"pres:{number}@127.0.0.1", device_id="mac:00-11",
                   timestamp=datetime(2026, 11, 23, 18, 0, tzinfo=UTC)) if located else None
    content = build_emergency_invite(
        callback=CallbackIdentity(display_name="Caller", number=number, host="127.0.0.1"),
        trunk_uri="sip:127.0.0.1:5999", language="en", pidf=pidf, location_token="1a2b")
    return parse_invite(trunk, build_raw_invite(content, SDP, call_id=call_id))


def outbound(number: str, call_id: str) -> TrunkInvite:
    return parse_invite("outbound", f"INVITE sip:{number}@127.0.0.1:5998 SIP/2.0\r\n"
                                    f"Call-ID: {call_id}\r\nContent-Length: 0\r\n\r\n")


def good_invites() -> list[TrunkInvite]:
    """Row 1 bridged by a worker (a new Call-ID: found by its callback number), rows 2 and 4
    relayed by the front (the caller's Call-ID names the row)."""
    return [emergency("psap", "+14065565000", located=True, call_id="Xk3bridge"),
            outbound("+14065550002", "c2-///2-100@127.0.0.1"),
            emergency("sorting", "+14065567000", located=False, call_id="c4-///4-100@127.0.0.1")]


def test_calls_that_match_their_rows_pass() -> None:
    assert check_rows(ROWS, ANSWERS, good_invites(), office=OFFICE) == ({}, [])


def test_a_911_at_the_wrong_trunk_is_named_by_its_row() -> None:
    """Row 1's INVITE reached the sorting center (valid PIDF-LO, right callback)."""
    invites = good_invites()
    invites[0] = emergency("sorting", "+14065565000", located=True, call_id="Xk3bridge")
    assert check_rows(ROWS, ANSWERS, invites, office=OFFICE) == (
        {1: ["reached the sorting trunk, expected psap"]}, [])


def test_a_wrong_callback_number_leaves_the_row_unmatched_and_the_invite_stray() -> None:
    invites = good_invites()
    invites[0] = emergency("psap", "+14065565999", located=True, call_id="Xk3bridge")
    assert check_rows(ROWS, ANSWERS, invites, office=OFFICE) == (
        {1: ["no INVITE at the psap trunk"]},
        ["psap trunk: INVITE to 911 (Call-ID Xk3bridge, PAI +14065565999) fits no row"])


def test_a_911_without_its_pidf_lo_fails_the_strict_psap_check() -> None:
    invites = good_invites()
    invites[0] = emergency("psap", "+14065565000", located=False, call_id="Xk3bridge")
    problems, strays = check_rows(ROWS, ANSWERS, invites, office=OFFICE)
    assert (sorted(problems), strays) == ([1], [])
    (problem,) = problems[1]
    assert "Geolocation" in problem, problem


def test_a_callback_of_a_wrong_caller_on_a_relayed_911_is_reported() -> None:
    """Row 4 relayed by the front (found by Call-ID) but carrying another caller's number."""
    invites = good_invites()
    invites[2] = emergency("sorting", "+14065550100", located=False,
                           call_id="c4-///4-100@127.0.0.1")
    problems, _ = check_rows(ROWS, ANSWERS, invites, office=OFFICE)
    assert sorted(problems) == [4]
    assert "+14065567000" in problems[4][0], problems[4]


def test_caller_side_differences_are_reported_per_row() -> None:
    """Row 2 never got a final answer (SIPp's complaint quoted), row 3 was answered instead of
    refused, and its call reached the outbound trunk; the normal call's number is E.164."""
    answers = {**ANSWERS, 3: CallerAnswer(200)}
    del answers[2]
    invites = [*good_invites(), outbound("+14065550003", "c3-///3-100@127.0.0.1")]
    errors = caller_errors("2026-11-23 Aborting call on unexpected message for Call-Id "
                           "'c2-///2-100@127.0.0.1': while expecting '200' (index 4), "
                           "received 'SIP/2.0 503 Service Unavailable'")
    assert check_rows(ROWS, answers, invites, errors, office=OFFICE) == ({
        2: ["no final answer at the caller (SIPp: 2026-11-23 Aborting call on unexpected "
            "message for Call-Id 'c2-///2-100@127.0.0.1': while expecting '200' (index 4), "
            "received 'SIP/2.0 503 Service Unavailable')"],
        3: [f"caller got 200 '', expected 403 with Reason text {BLOCKED_REASON!r}",
            "an INVITE reached the outbound trunk"],
    }, [])


def test_a_normal_call_to_the_wrong_number_is_reported() -> None:
    invites = good_invites()
    invites[1] = outbound("+14065559999", "c2-///2-100@127.0.0.1")
    problems, _ = check_rows(ROWS[1:3], ANSWERS, invites[1:2], office=OFFICE)
    assert problems == {2: ["Request-URI user '+14065559999', expected '+14065550002'"]}


def test_caller_log_lines_give_each_rows_final_answer() -> None:
    log = f"1;200;\n3;403;{BLOCKED_REASON}\nnoise\n"
    assert caller_answers(log) == {1: CallerAnswer(200), 3: CallerAnswer(403, BLOCKED_REASON)}


def test_the_committed_csv_is_the_generated_one_and_reads_back() -> None:
    """sipp-scenarios/load/compliance.csv: 400 rows, every emergency caller distinct."""
    path = LOAD / "compliance.csv"
    assert path.read_text() == compliance_csv_text(compliance_rows())
    rows = read_compliance_csv(path)
    assert rows == compliance_rows()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.expect] = counts.get(row.expect, 0) + 1
    assert counts == {"psap": 40, "outbound": 300, "sorting": 40, "blocked": 20}
    emergency_callers = [r.caller for r in rows if r.expect in ("psap", "sorting")]
    assert len(set(emergency_callers)) == len(emergency_callers)
    assert [r.dialled for r in rows if r.expect == "psap"][:2] == ["911", "9911"]


@pytest.mark.parametrize("line", ["5000;911;1;psap", "5000;911;1;nowhere;;no"])
def test_a_malformed_csv_line_is_refused(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"SEQUENTIAL\n{line}\n")
    with pytest.raises(LoadError, match=r"bad\.csv:2: not caller;dialled;row;expect"):
        read_compliance_csv(path)
