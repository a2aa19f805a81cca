"""E911_EMERGENCY_REQUEST_URI and E911_PROVIDER_* (issue 18 deliverable 4): refused where the
NG911 form could not be sent whole, rendered into a Kamailio configuration Kamailio accepts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from router.call.modes import EmergencyRequestUri
from router.kamailio.front import front_config
from router.kamailio.render import check, render, write
from router.settings import load_settings
from router.settings_parsers import SettingsError

SOS = {"E911_EMERGENCY_REQUEST_URI": "sos", "E911_PROVIDER_NAME": "Example Voice Inc",
       "E911_PROVIDER_CONTACT": "tel:+12025550100"}


def test_default_is_the_carrier_form() -> None:
    """Off by default: 911s go out as sip:911@trunk, the front renders no NG911 block."""
    settings = load_settings({})
    assert settings.emergency_request_uri is EmergencyRequestUri.TRUNK
    cfg = render(front_config(settings, Path("/run/e911-test"))).cfg
    assert "if (0 == 1 && $var(route) == \"psap\")" in cfg
    assert "EmergencyCallData.ProviderInfo xmlns" not in cfg


@pytest.mark.parametrize(("env", "named"), [
    ({**SOS, "E911_PROVIDER_NAME": ""}, "E911_PROVIDER_NAME"),
    ({**SOS, "E911_PROVIDER_NAME": "Acme $var(x)"}, "E911_PROVIDER_NAME"),
    ({**SOS, "E911_PROVIDER_CONTACT": "mailto:noc@example.net"}, "E911_PROVIDER_CONTACT"),
    ({**SOS, "E911_PROVIDER_CONTACT": "sip:$var(x)@noc.example.net"}, "E911_PROVIDER_CONTACT"),
    ({**SOS, "E911_FRONT": "none"}, "E911_FRONT=kamailio"),
])
def test_sos_without_what_it_needs_is_refused(env: dict[str, str], named: str) -> None:
    """No provider name, a contact that is no sip:/tel: URI, or no front: refused at load."""
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_sos_worker_behind_the_front_is_accepted() -> None:
    """A worker `run` starts behind Kamailio (E911_FRONT=none + E911_DEVICE_IP_REQUIRED)."""
    settings = load_settings({**SOS, "E911_FRONT": "none", "E911_DEVICE_IP_REQUIRED": "true"})
    assert settings.emergency_request_uri is EmergencyRequestUri.SOS


def test_sos_front_configuration_passes_kamailio_check(tmp_path: Path) -> None:
    """The rendered blocks (escaped XML in cfg strings) pass `kamailio -c`."""
    binary = shutil.which("kamailio")
    assert binary is not None, "kamailio is not installed (scripts/test installs it)"
    front = front_config(load_settings({**SOS, "E911_PROVIDER_NAME": 'A&B "Voice" <1>'}),
                         tmp_path)
    rendered = render(front)
    write(front, rendered)
    result = check(binary, front.cfg_path)
    assert result.ok, result.output
    assert "<DataProviderString>A&amp;B \\\"Voice\\\" &lt;1&gt;</DataProviderString>" in \
        rendered.cfg
