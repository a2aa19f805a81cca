"""`e911-router dialplan classify`: one JSON object and exit 0, or one error line and exit 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from dialplan import DialPlanConfig
from router.commands.dialplan import run_classify

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / ".venv" / "bin" / "e911-router"


def emergency_json(dialed: str, urn: str = "urn:service:sos") -> str:
    return json.dumps(
        {"call_class": "emergency", "dialed": dialed, "normalized": "911", "service_urn": urn}
    ) + "\n"


EVERY_FORM = [
    pytest.param("911", emergency_json("911"), id="plain"),
    pytest.param("9-911", emergency_json("9911"), id="plain-prefix-separators"),
    pytest.param("sip:9911@pbx.example.com", emergency_json("9911"), id="sip"),
    pytest.param("sips:911@pbx.example.com", emergency_json("911"), id="sips"),
    pytest.param("sip:9-911@pbx;user=phone", emergency_json("9911"), id="sip-user-phone"),
    pytest.param("sip:%39%31%31@pbx", emergency_json("911"), id="sip-escaped"),
    pytest.param("tel:911;phone-context=+1", emergency_json("911"), id="tel-context"),
    pytest.param('"Desk" <sip:911@pbx>;tag=1', emergency_json("911"), id="name-addr"),
    pytest.param("urn:service:sos.fire",
                 emergency_json("urn:service:sos.fire", "urn:service:sos.fire"), id="urn"),
    pytest.param("933", json.dumps({"call_class": "emergency_test", "dialed": "933",
                                    "normalized": "933",
                                    "service_urn": "urn:service:test.sos"}) + "\n", id="test"),
    pytest.param("9-1-406-555-1234", json.dumps({"call_class": "normal",
                                                 "dialed": "914065551234",
                                                 "normalized": "+14065551234",
                                                 "service_urn": None}) + "\n", id="nanp"),
    pytest.param("sip:alice@example.com", json.dumps({"call_class": "invalid", "dialed": "alice",
                                                      "normalized": "", "service_urn": None})
                 + "\n", id="invalid-still-exit-0"),
]


@pytest.mark.parametrize(("target", "stdout"), EVERY_FORM)
def test_run_classify_prints_one_json_object(target: str, stdout: str) -> None:
    """Every readable form prints exactly one JSON object with the four keys and exits 0."""
    assert run_classify(target, DialPlanConfig()) == (0, stdout, "")


@pytest.mark.parametrize(
    ("target", "stderr"),
    [
        pytest.param("mailto:911@example.com", "error: unsupported URI scheme 'mailto'\n",
                     id="scheme"),
        pytest.param("<sip:911@pbx", "error: '<' without a matching '>'\n", id="name-addr"),
        pytest.param("sip:9%1@pbx", "error: malformed %-escape in sip user part\n", id="escape"),
    ],
)
def test_run_classify_reports_unreadable_input_on_one_line(target: str, stderr: str) -> None:
    """Unreadable input exits 2 with one `error:` line on stderr and nothing on stdout."""
    assert run_classify(target, DialPlanConfig()) == (2, "", stderr)


def test_run_classify_uses_the_configuration_it_is_given() -> None:
    """With prefix 8 only, 9911 is an extension and 8911 is 911."""
    config = DialPlanConfig(access_prefixes=("8",))
    assert [json.loads(run_classify(t, config)[1])["call_class"] for t in ("9911", "8911")] == [
        "normal",
        "emergency",
    ]


needs_cli = pytest.mark.skipif(
    not (ROOT / "router" / "cli.py").exists(), reason="router/cli.py is not written yet"
)


def console(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the installed console script in an empty directory (so no stray .env is read)."""
    # PYTHONPATH makes the checkout under test the code that runs, whatever the editable
    # install points at; nothing else from the calling environment leaks in.
    full_env = {"PYTHONPATH": str(ROOT), "LANG": "C.UTF-8", **(env or {})}
    done = subprocess.run(
        [str(CONSOLE), "dialplan", "classify", *args],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


@needs_cli
def test_console_classifies_a_sip_request_uri(tmp_path: Path) -> None:
    """The real command prints the emergency JSON for sip:9911@...;user=phone and exits 0."""
    assert console(tmp_path, "sip:9911@pbx.example.com;user=phone") == (
        0,
        emergency_json("9911"),
        "",
    )


@needs_cli
def test_console_refuses_unreadable_input_with_exit_2(tmp_path: Path) -> None:
    """The real command exits 2 with one error line for an unsupported scheme."""
    assert console(tmp_path, "mailto:911@example.com") == (
        2,
        "",
        "error: unsupported URI scheme 'mailto'\n",
    )


@needs_cli
def test_console_reads_access_prefixes_from_the_environment(tmp_path: Path) -> None:
    """E911_ACCESS_PREFIXES=8 makes 9911 an ordinary extension."""
    code, out, err = console(tmp_path, "9911", env={"E911_ACCESS_PREFIXES": "8"})
    assert (code, json.loads(out), err) == (
        0,
        {"call_class": "normal", "dialed": "9911", "normalized": "9911", "service_urn": None},
        "",
    )


@needs_cli
def test_console_reads_extra_numbers_from_an_env_file(tmp_path: Path) -> None:
    """--env-file with E911_EXTRA_EMERGENCY_NUMBERS=112 makes 112 an emergency."""
    env_file = tmp_path / "site.env"
    env_file.write_text("E911_EXTRA_EMERGENCY_NUMBERS=112\n")
    assert console(tmp_path, "tel:112", "--env-file", str(env_file)) == (
        0,
        emergency_json("112"),
        "",
    )


@needs_cli
def test_console_refuses_a_dial_plan_that_captures_933(tmp_path: Path) -> None:
    """A dial plan mapping 933 to 911 stops the command with one line naming the setting."""
    code, out, err = console(tmp_path, "911", env={"E911_EXTRA_EMERGENCY_NUMBERS": "933"})
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith("error: ")
    assert "E911_EXTRA_EMERGENCY_NUMBERS" in err
    assert "extra_emergency_numbers: '933' (extra emergency number) classifies as" in err
