"""Settings: defaults, one-line errors naming the variable, example.env in step with the code."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import sys
from pathlib import Path

import pytest

from router.call.modes import AnnounceMode, AnnounceOverflow, NormalCallMode
from router.deploy import Front
from router.language import Language
from router.settings import VARIABLES, load_settings
from router.settings_parsers import HostPort, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_load_without_any_variable() -> None:
    """An empty environment gives the documented defaults."""
    s = load_settings({})
    assert s.sip_listen == HostPort("127.0.0.1", 5060)
    assert s.trusted_peers == (ipaddress.ip_network("127.0.0.0/8"),
                               ipaddress.ip_network("::1/128"))
    assert s.access_prefixes == tuple(str(d) for d in range(10))
    assert s.trunk_test == s.trunk_psap == ("sip:127.0.0.1:5071",)
    assert s.normal_call_mode is NormalCallMode.REDIRECT
    assert s.announce_mode is AnnounceMode.EARLY
    assert s.default_language is Language.EN
    assert s.database_url == "sqlite:///var/e911.db"
    assert (s.extension_min_digits, s.extension_max_digits) == (2, 6)


def test_trunk_lists_parse_in_order() -> None:
    """E911_TRUNK_PSAP is an ordered failover list; E911_TRUNK_TEST follows it when empty."""
    s = load_settings({"E911_TRUNK_PSAP": "sip:a.example:5060, sips:b.example;transport=tls"})
    assert s.trunk_psap == ("sip:a.example:5060", "sips:b.example;transport=tls")
    assert s.trunk_test == s.trunk_psap


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("E911_TRUNK_PSAP", "http://psap.example",
         "E911_TRUNK_PSAP='http://psap.example': 'http://psap.example' is not a SIP URI"),
        ("E911_TRUNK_OUTBOUND", "sip:host:70000",
         "E911_TRUNK_OUTBOUND='sip:host:70000': port must be between 1 and 65535"),
        ("E911_TRUSTED_PEERS", "10.0.0.0/33",
         "E911_TRUSTED_PEERS='10.0.0.0/33': '10.0.0.0/33' is not a CIDR network"),
        ("E911_TRUSTED_PEERS", "10.0.0.1/24",
         "E911_TRUSTED_PEERS='10.0.0.1/24': '10.0.0.1/24' is not a CIDR network"),
        ("E911_DEFAULT_LANGUAGE", "de",
         "E911_DEFAULT_LANGUAGE='de': must be one of en|es|fr"),
        ("E911_SIP_LISTEN", "127.0.0.1:0",
         "E911_SIP_LISTEN='127.0.0.1:0': port must be between 1 and 65535"),
        ("E911_API_LISTEN", "127.0.0.1:65536",
         "E911_API_LISTEN='127.0.0.1:65536': port must be between 1 and 65535"),
        ("E911_METRICS_LISTEN", "9911",
         "E911_METRICS_LISTEN='9911': must be HOST:PORT"),
        ("E911_BIND_PREFIX_V4", "33", "E911_BIND_PREFIX_V4='33': must be between 8 and 32"),
        ("E911_TRUNK_TIMEOUT_SECONDS", "soon",
         "E911_TRUNK_TIMEOUT_SECONDS='soon': must be a number"),
        ("E911_NORMAL_CALL_MODE", "proxy",
         "E911_NORMAL_CALL_MODE='proxy': must be one of redirect|bridge"),
        ("E911_NOTIFY_ON_TEST_CALLS", "maybe",
         "E911_NOTIFY_ON_TEST_CALLS='maybe': must be true or false"),
        ("E911_DATABASE_URL", "mysql://x", "E911_DATABASE_URL='mysql://x': must start with"),
        ("E911_SMTP_URL", "mail.example", "E911_SMTP_URL='mail.example': must be smtp://"),
        ("E911_DEVICE_IP_HEADER", "X-Dev\r\nVia: x",
         "E911_DEVICE_IP_HEADER='X-Dev\\r\\nVia: x': must be a SIP header name"),
        ("E911_ADMIN_TOKENS", "short", "E911_ADMIN_TOKENS='<hidden>': each token needs"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str, message: str) -> None:
    """Every invalid value fails with one line that starts with the variable and its value."""
    with pytest.raises(SettingsError) as info:
        load_settings({name: value})
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(message), text


def test_misspelt_variable_is_refused_with_a_suggestion() -> None:
    """A typo must not silently leave a default in force."""
    with pytest.raises(SettingsError, match=r"^E911_TRUSTED_PEER: unknown setting "
                                            r"\(did you mean E911_TRUSTED_PEERS\?\)$"):
        load_settings({"E911_TRUSTED_PEER": "10.0.0.0/8"})


def test_webhook_url_needs_a_secret() -> None:
    """Webhook deliveries are signed, so a URL without a usable secret is refused."""
    with pytest.raises(SettingsError, match=r"^E911_WEBHOOK_SECRET: needs at least 16"):
        load_settings({"E911_WEBHOOK_URL": "https://hooks.example/e911"})


def test_dialplan_that_captures_933_is_refused() -> None:
    """The safety lint runs at load: 933 mapped to 911 would hide test calls."""
    with pytest.raises(SettingsError) as info:
        load_settings({"E911_EXTRA_EMERGENCY_NUMBERS": "933"})
    assert str(info.value).startswith("E911_EXTRA_EMERGENCY_NUMBERS: ")
    assert "\n" not in str(info.value)


def _example_env() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (ROOT / "config" / "example.env").read_text().splitlines():
        match = re.fullmatch(r"(E911_[A-Z0-9_]+)=(.*)", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def test_example_env_documents_every_variable_once() -> None:
    """config/example.env lists exactly the variables the code reads, each with a comment."""
    values = _example_env()
    assert sorted(values) == sorted(VARIABLES)
    text = (ROOT / "config" / "example.env").read_text()
    for name in VARIABLES:
        before = text.split(f"\n{name}=")[0].rstrip().splitlines()[-1]
        assert before.startswith("#"), f"{name} has no comment above it"


def test_example_env_values_are_the_defaults() -> None:
    """Loading example.env gives the same settings as loading nothing."""
    assert load_settings(_example_env()) == load_settings({})


def test_nothing_outside_settings_reads_the_environment() -> None:
    """Only router/settings.py may read os.environ / getenv."""
    offenders = []
    for path in list((ROOT / "router").rglob("*.py")) + list((ROOT / "dialplan").rglob("*.py")):
        if path.name == "settings.py" and path.parent.name == "router":
            continue
        text = path.read_text()
        if re.search(r"os\.environ|getenv\(", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_config_check_fails_startup_naming_the_variable(tmp_path: Path) -> None:
    """A bad .env value makes `e911-router config check` exit 2 with one line naming it."""
    (tmp_path / ".env").write_text("E911_TRUSTED_PEERS=10.0.0.0/33\n")
    proc = subprocess.run([sys.executable, "-m", "router", "config", "check"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: E911_TRUSTED_PEERS='10.0.0.0/33': '10.0.0.0/33' is not a CIDR network "
        "('10.0.0.0/33' does not appear to be an IPv4 or IPv6 network)"
    ], proc.stderr


def test_config_check_accepts_a_good_env_file(tmp_path: Path) -> None:
    """A valid file passes and the process environment wins over it."""
    env_file = tmp_path / "router.env"
    env_file.write_text("E911_SIP_LISTEN=bogus\n")
    proc = subprocess.run([sys.executable, "-m", "router", "config", "show",
                           "--env-file", str(env_file)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                               "E911_SIP_LISTEN": "127.0.0.2:5099"})
    assert proc.returncode == 0, proc.stderr
    assert '"sip_listen": "127.0.0.2:5099"' in proc.stdout


def test_front_defaults_put_kamailio_before_two_workers() -> None:
    """By default Kamailio takes E911_SIP_LISTEN and the workers sit on 5081, 5082."""
    s = load_settings({})
    assert s.front is Front.KAMAILIO
    assert (s.worker_listen, s.workers) == (HostPort("127.0.0.1", 5081), 2)
    assert (s.kamailio_shm_mb, s.kamailio_worker_timeout_ms) == (512, 1000)
    assert s.kamailio_remote_workers == ()
    assert s.announce_overflow is AnnounceOverflow.SHED


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"E911_DEVICE_IP_HEADER": ""},
         "E911_DEVICE_IP_HEADER: must be set when E911_FRONT=kamailio (the workers see the "
         "front's address as the source of every INVITE)"),
        ({"E911_WORKER_LISTEN": "127.0.0.1:5059", "E911_WORKERS": "2"},
         "E911_WORKER_LISTEN=127.0.0.1:5059: worker ports 5059-5060 include "
         "E911_SIP_LISTEN=127.0.0.1:5060"),
        ({"E911_WORKER_LISTEN": "127.0.0.1:65535", "E911_WORKERS": "2"},
         "E911_WORKER_LISTEN=127.0.0.1:65535: 2 workers need ports 65535-65536; the last "
         "port must be at most 65535"),
        ({"E911_FRONT": "none", "E911_SIP_LISTEN": "127.0.0.1:65535"},
         "E911_SIP_LISTEN=127.0.0.1:65535: 2 workers need ports 65535-65536; the last port "
         "must be at most 65535"),
        ({"E911_KAMAILIO_SHM_MB": "64"},
         "E911_KAMAILIO_SHM_MB='64': must be between 256 and 65536"),
        ({"E911_FRONT": "opensips"}, "E911_FRONT='opensips': must be one of kamailio|none"),
        ({"E911_KAMAILIO_REMOTE_WORKERS": "10.0.0.6:5081"},
         "E911_KAMAILIO_REMOTE_WORKERS='10.0.0.6:5081': '10.0.0.6:5081' is not a SIP URI "
         "(sip:host[:port][;params])"),
    ],
)
def test_front_settings_are_checked_at_load(env: dict[str, str], message: str) -> None:
    """A front setting that cannot work stops startup with one line naming it."""
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert str(info.value) == message


def test_without_a_front_the_device_ip_header_may_be_empty() -> None:
    """E911_FRONT=none: the source address is the device's, no header is needed."""
    s = load_settings({"E911_FRONT": "none", "E911_DEVICE_IP_HEADER": ""})
    assert (s.front, s.device_ip_header) == (Front.NONE, "")


@pytest.mark.parametrize(
    ("env", "reserved"),
    [
        ({}, 0),
        ({"E911_WORKERS": "2", "E911_KAMAILIO_EMERGENCY_WORKERS": "auto"}, 0),
        ({"E911_WORKERS": "3"}, 1),
        ({"E911_WORKERS": "8", "E911_KAMAILIO_EMERGENCY_WORKERS": "AUTO"}, 1),
        ({"E911_WORKERS": "3", "E911_KAMAILIO_EMERGENCY_WORKERS": "0"}, 0),
        ({"E911_WORKERS": "4", "E911_KAMAILIO_EMERGENCY_WORKERS": " 3 "}, 3),
        ({"E911_WORKERS": "1", "E911_KAMAILIO_EMERGENCY_WORKERS": "0"}, 0),
    ],
)
def test_emergency_workers_auto_reserves_one_from_three_workers(
    env: dict[str, str], reserved: int
) -> None:
    """E911_KAMAILIO_EMERGENCY_WORKERS: auto = 1 when E911_WORKERS >= 3, else 0; or a count."""
    assert load_settings(env).kamailio_emergency_workers == reserved


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"E911_WORKERS": "3", "E911_KAMAILIO_EMERGENCY_WORKERS": "3"},
         "E911_KAMAILIO_EMERGENCY_WORKERS=3: must be less than E911_WORKERS=3 (at least one "
         "local worker must take ordinary calls)"),
        ({"E911_KAMAILIO_EMERGENCY_WORKERS": "5"},
         "E911_KAMAILIO_EMERGENCY_WORKERS=5: must be less than E911_WORKERS=2 (at least one "
         "local worker must take ordinary calls)"),
        ({"E911_WORKERS": "1", "E911_KAMAILIO_EMERGENCY_WORKERS": "1"},
         "E911_KAMAILIO_EMERGENCY_WORKERS=1: must be less than E911_WORKERS=1 (at least one "
         "local worker must take ordinary calls)"),
        ({"E911_WORKERS": "3", "E911_KAMAILIO_EMERGENCY_WORKERS": "-1"},
         "E911_KAMAILIO_EMERGENCY_WORKERS='-1': must be auto or a whole number (0 or more)"),
        ({"E911_KAMAILIO_EMERGENCY_WORKERS": "some"},
         "E911_KAMAILIO_EMERGENCY_WORKERS='some': must be auto or a whole number (0 or more)"),
    ],
)
def test_emergency_workers_out_of_range_stop_startup(env: dict[str, str], message: str) -> None:
    """As many reserved workers as workers (none left for ordinary calls), or a negative or
    non-numeric count, stops startup with one line naming the variable."""
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert str(info.value) == message
