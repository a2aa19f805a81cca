"""`scripts/load compliance`, short and bounded: the router behind Kamailio takes the first 40
rows of sipp-scenarios/load/compliance.csv (SIPp) and every call matches its row; the same
evidence checked against altered rows names exactly the altered rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from scripts.loadlib import check_rows, load_office, read_evidence, run_compliance
from tests.support.router_run import requires_kamailio

pytestmark = [pytest.mark.scenario, requires_kamailio]


def test_compliance_run_checks_every_call_against_its_row(tmp_path: Path) -> None:
    """40 calls at 10/s: 4 located 911s at the PSAP with the bound address, 4 unlocated 911s
    at the sorting center with the right callback, 30 normal calls at the outbound trunk, 2
    refused with 403; then rows 1 and 6 rewritten to expect something else fail, alone."""
    result = run_compliance(rate=10, seconds=4, hold_ms=200, workers=2, workdir=tmp_path)
    assert len(result.rows) == 40
    assert (result.problems, result.strays) == ({}, [])
    assert [r.expect for r in result.rows].count("psap") == 4
    assert [r.expect for r in result.rows].count("blocked") == 2

    answers, invites, errors = read_evidence(tmp_path)
    altered = list(result.rows)
    altered[0] = dataclasses.replace(altered[0], expect="sorting", location=False)
    altered[5] = dataclasses.replace(altered[5], callback="+14065559999")
    problems, strays = check_rows(altered, answers, invites, errors, load_office())
    assert sorted(problems) == [1, 6]
    assert "reached the psap trunk, expected sorting" in problems[1]
    assert problems[6] == ["no INVITE at the sorting trunk"]
    assert len(strays) == 1 and strays[0].startswith("sorting trunk: INVITE to 911"), strays
