"""The configuration in docs/pbx/ as operators copy it: the Asterisk dial plan passes the lint,
the FreeSWITCH XML parses and takes exactly 911/933/X911/X933, the Kamailio PBX routes pass
`kamailio -c`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from dialplan.pbxlint import FindingKind, lint_asterisk, lint_freeswitch

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pbx"


def fenced(page: str, language: str) -> list[str]:
    """The ```language blocks of a docs/pbx page, in order."""
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / page).read_text(), re.DOTALL)


def asterisk_dialplan() -> str:
    (block,) = [b for b in fenced("asterisk.md", "ini") if b.startswith("; extensions.conf")]
    return block


def test_asterisk_guide_dialplan_passes_the_lint() -> None:
    """The extensions.conf of docs/pbx/asterisk.md: 911, 933, 9911 and 9933 reach the router
    with a failover, from the phones' context."""
    report = lint_asterisk(asterisk_dialplan(), router="e911-router")
    assert report.findings == ()
    assert report.contexts == ("from-internal",)


def test_asterisk_guide_without_its_failover_fails_the_lint() -> None:
    """Take the carrier Dial out of the guide's route and the lint says 911 and 933 (and their
    prefixed forms) have no failover: the test above can fail."""
    text = asterisk_dialplan().replace(" same => n,Dial(PJSIP/${EXTEN}@${E911_FALLBACK})\n", "")
    report = lint_asterisk(text, router="e911-router")
    assert {(f.kind, f.dial) for f in report.findings} == {
        (FindingKind.NO_FAILOVER, d) for d in ("911", "933", "9911", "9933")}


def freeswitch_dialplan() -> str:
    (block,) = [b for b in fenced("freeswitch.md", "xml") if "<extension" in b]
    return block


def test_freeswitch_guide_dialplan_passes_the_lint() -> None:
    """The dial plan of docs/pbx/freeswitch.md: 911, 933 (and with a prefix) reach the
    e911-router gateway first, the carrier's gateway on failure."""
    report = lint_freeswitch(freeswitch_dialplan(), router="e911-router")
    assert (report.findings, report.contexts) == ((), ("default",))


def test_freeswitch_guide_without_its_failover_fails_the_lint() -> None:
    """Without the `|` alternative the lint says 911 and 933, with and without the
    prefix 9 the outbound extension uses, have no failover."""
    text = freeswitch_dialplan().replace("|sofia/gateway/carrier-e911/$1", "")
    report = lint_freeswitch(text, router="e911-router")
    assert {(f.kind, f.dial) for f in report.findings} == {
        (FindingKind.NO_FAILOVER, d) for d in ("911", "933", "9911", "9933")}


def freeswitch_expression() -> re.Pattern[str]:
    documents = [etree.fromstring(block.encode()) for block in fenced("freeswitch.md", "xml")]
    (condition,) = [c for doc in documents for c in doc.iter("condition")
                    if c.getparent().get("name") == "e911"]
    return re.compile(condition.get("expression"))


def test_freeswitch_guide_xml_is_well_formed() -> None:
    """Every XML block of docs/pbx/freeswitch.md parses (gateway and dial plan)."""
    blocks = fenced("freeswitch.md", "xml")
    assert len(blocks) == 2
    for block in blocks:
        etree.fromstring(block.encode())


@pytest.mark.parametrize(
    ("dialled", "carrier_number"),
    [("911", "911"), ("933", "933"), ("9911", "911"), ("0911", "911"), ("8933", "933")],
)
def test_freeswitch_emergency_expression_takes_911_933_with_any_prefix(
        dialled: str, carrier_number: str) -> None:
    """The e911 extension takes 911/933 with or without one prefix digit; $1 is the bare
    number the carrier's trunk is sent on failover."""
    match = freeswitch_expression().search(dialled)
    assert match is not None and match.group(1) == carrier_number


@pytest.mark.parametrize("dialled", ["9115551234", "91100", "99911", "411", "9933x", "1"])
def test_freeswitch_emergency_expression_takes_nothing_else(dialled: str) -> None:
    """Longer numbers that start with or contain 911 are not emergency calls."""
    assert freeswitch_expression().search(dialled) is None


KAMAILIO_SKELETON = """#!KAMAILIO
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "pv.so"
request_route {
	if (is_method("INVITE")) {
		route(TO_E911_ROUTER);
	}
	sl_send_reply("404", "Not here");
}
"""


def kamailio_check(tmp_path: Path, routes: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    assert Path(binary).exists(), "kamailio is missing: apt-get install kamailio"
    cfg = tmp_path / "pbx.cfg"
    cfg.write_text(KAMAILIO_SKELETON + routes)
    return subprocess.run([binary, "-c", "-f", str(cfg)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_kamailio_guide_routes_pass_kamailio_check(tmp_path: Path) -> None:
    """The routes of docs/pbx/kamailio.md load in Kamailio 5.6 (`kamailio -c`)."""
    (routes,) = fenced("kamailio.md", "kamailio")
    done = kamailio_check(tmp_path, routes)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "config file ok" in done.stdout + done.stderr


def test_kamailio_check_refuses_an_unknown_function(tmp_path: Path) -> None:
    """The check above can fail: a misspelt function is a parse error."""
    (routes,) = fenced("kamailio.md", "kamailio")
    done = kamailio_check(tmp_path, routes.replace("t_set_fr(", "t_set_frr("))
    assert done.returncode != 0
    assert "failed to find command t_set_frr" in done.stderr
