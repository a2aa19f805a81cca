"""`e911-router pbx lint` as a user runs it: exit codes, the text lines and --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"


def run_lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router", "pbx", "lint", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def test_clean_plan_exits_0_with_one_summary_line() -> None:
    """A plan where 911 and 933 reach the router: exit 0, one line saying so."""
    path = CORPUS / "good-prefix-9.conf"
    done = run_lint(str(path), "--router", "e911-router")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (f"{path}: 911 and 933 reach the router (router e911-router; "
                           "contexts checked: from-internal)\n")


def test_findings_exit_1_one_line_each_with_file_line_context_dial_and_rule() -> None:
    """A plan with findings: exit 1, FILE:LINE: [context] DIAL: kind: message per finding."""
    path = CORPUS / "bad-shadowed-by-include-order.conf"
    done = run_lint(str(path), "--router", "e911-router")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"{path}:8: [from-internal] 911: shadowed: _X. in [from-internal] takes 911 before the "
        "route to e911-router (911 in [emergency]) and the first Dial sends it to carrier, not "
        "to e911-router (see line 11)")
    assert lines[1] == (f"{path}:8: [from-internal] 933: bypasses_router: _X. in "
                        "[from-internal]: the first Dial sends it to carrier, not to e911-router")
    assert lines[2].endswith(": 2 finding(s) (router e911-router; contexts checked: "
                             "from-internal)")


def test_json_output_is_one_object_with_every_finding() -> None:
    """--json prints one object: file, router, contexts, clean and each finding's fields."""
    path = CORPUS / "bad-prefix-without-x911.conf"
    done = run_lint(str(path), "--router", "e911-router", "--json")
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["clean"] is False
    assert document["contexts"] == ["from-internal"]
    assert [(f["file"], f["line"], f["context"], f["dial"], f["kind"])
            for f in document["findings"]] == [
        (str(path), 6, "from-internal", "9911", "no_prefix_route"),
        (str(path), 6, "from-internal", "9933", "no_prefix_route"),
    ]
    assert document["findings"][0]["message"] == (
        "access prefix 9 is used for outside calls but 9911 goes nowhere")


def test_json_clean_plan_exits_0() -> None:
    """--json on a clean plan: exit 0, clean true, no findings."""
    done = run_lint(str(CORPUS / "good-template.conf"), "--router", "e911-router", "--json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["findings"] == []


def test_unreadable_file_exits_2_with_one_error_line(tmp_path: Path) -> None:
    """A missing file or one that is not UTF-8 text: exit 2 and one error line, no report."""
    missing = tmp_path / "nope.conf"
    done = run_lint(str(missing), "--router", "e911-router")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"error: cannot read {missing}: ")
    assert done.stderr.count("\n") == 1
    binary = tmp_path / "binary.conf"
    binary.write_bytes(b"[ctx]\nexten => 911,1,Dial(\xff\xfe)\n")
    assert run_lint(str(binary), "--router", "e911-router").returncode == 2


def test_router_name_is_required() -> None:
    """Without --router the command refuses (argparse usage error, exit 2)."""
    assert run_lint(str(CORPUS / "good-template.conf")).returncode == 2


def test_freeswitch_xml_is_recognised_and_linted() -> None:
    """A file starting with '<' is read as a FreeSWITCH dial plan: a bridge without
    continue_on_fail has no failover (exit 1, one line each for 911 and 933)."""
    path = CORPUS / "bad-fs-fail-without-continue.xml"
    done = run_lint(str(path), "--router", "e911-router")
    assert done.returncode == 1
    assert done.stdout.splitlines()[:2] == [
        f"{path}:6: [default] {number}: no_failover: e911 in [default] dials only "
        "e911-router: when the router does not answer nothing else is tried (add a bridge "
        "to the carrier's E911 trunk after it)" for number in ("911", "933")]


def test_xml_that_is_not_well_formed_is_a_finding_not_an_unreadable_file() -> None:
    """Malformed XML is read (exit 1, an `unreadable` finding at its line), not exit 2."""
    path = CORPUS / "bad-fs-not-well-formed.xml"
    done = run_lint(str(path), "--router", "e911-router", "--json")
    assert done.returncode == 1
    (finding,) = json.loads(done.stdout)["findings"]
    assert (finding["kind"], finding["line"]) == ("unreadable", 7)


def test_router_settings_decide_which_prefixed_numbers_it_reads_as_911(tmp_path: Path) -> None:
    """With --env-file the numbers sent to the router are judged under its dial plan: a router
    that takes only 8 as access prefix does not read 9911 as 911, so the good prefix-9 plan
    (which sends 9911 as dialled) gets number_changed findings for 9911 and 9933."""
    env = tmp_path / "router.env"
    env.write_text("E911_ACCESS_PREFIXES=8\n")
    path = CORPUS / "good-prefix-9.conf"
    done = run_lint(str(path), "--router", "e911-router", "--env-file", str(env), "--json")
    assert done.returncode == 1
    assert [(f["kind"], f["dial"]) for f in json.loads(done.stdout)["findings"]] == [
        ("number_changed", "9911"), ("number_changed", "9933")]
    assert run_lint(str(path), "--router", "e911-router").returncode == 0
