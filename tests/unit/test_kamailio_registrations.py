"""The front's registration path as rendered (issue 17): on only with an API token, the token
never in kamailio.cfg (which `kamailio-config --stdout` prints), its file owner-only."""

from __future__ import annotations

import stat
from pathlib import Path

from router.kamailio.front import front_config
from router.kamailio.render import REGISTRATION_SECRET_FILE, render, write
from router.settings import load_settings

TOKEN = "pbx-admin-token-" + "0123456789/+="


def test_admin_token_turns_registrations_on_and_stays_out_of_the_config(
        tmp_path: Path) -> None:
    """The route is defined and POSTs to this host's API on loopback; the token is only in
    the 0600 file the config imports."""
    settings = load_settings({"E911_ADMIN_TOKENS": TOKEN, "E911_API_LISTEN": "0.0.0.0:8081"})
    front = front_config(settings, tmp_path)
    out = render(front)
    assert TOKEN not in out.cfg
    assert "\n#!define E911_REGISTRATIONS\n#!ifdef E911_REGISTRATIONS\n" in out.cfg
    request_route = out.cfg.split("request_route {\n", 1)[1]
    # First after the basic checks: before the in-dialog relay (a NOTIFY has a To tag).
    assert request_route.index("\troute(REGISTRATION);") < request_route.index("has_totag()")
    assert f'import_file "{tmp_path}/{REGISTRATION_SECRET_FILE}"' in out.cfg
    assert 'http_client_query("http://127.0.0.1:8081/v1/registrations"' in out.cfg
    write(front, out)
    secret = tmp_path / REGISTRATION_SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.read_text() == f'#!subst "|REGISTRATION_BEARER|{TOKEN}|"\n'


def test_without_an_admin_token_the_front_takes_no_registrations(tmp_path: Path) -> None:
    """No token, no API to tell: the modules are not loaded and REGISTER stays a 405."""
    out = render(front_config(load_settings({}), tmp_path))
    assert "#!define E911_REGISTRATIONS" not in out.cfg
    assert out.registration_secret.startswith("# no administrator token")
    assert "#!else\nroute[REGISTRATION] {\n\treturn;\n}\n#!endif\n" in out.cfg
