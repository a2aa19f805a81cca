"""Every setting does something: each `Settings` field is read by the router's code (a
variable nobody reads is a promise the router does not keep, e.g. a timeout never applied)."""

from __future__ import annotations

import re
from pathlib import Path

from router.settings import settings_fields

ROOT = Path(__file__).resolve().parents[2]
# Read inside settings.py itself, by Settings.dialplan_config().
READ_BY_SETTINGS = {"extension_min_digits", "extension_max_digits"}


def test_every_setting_is_read_outside_the_settings_module() -> None:
    """Each field appears as `.field` in router/ (settings.py aside) or is read by settings.py's
    own derived views."""
    code = "\n".join(p.read_text() for p in (ROOT / "router").rglob("*.py")
                     if p.name != "settings.py")
    unread = [f for f in settings_fields()
              if f not in READ_BY_SETTINGS and not re.search(rf"\.{f}\b", code)]
    assert unread == []
    settings_py = (ROOT / "router" / "settings.py").read_text()
    assert all(re.search(rf"self\.{f}\b", settings_py) for f in READ_BY_SETTINGS)
