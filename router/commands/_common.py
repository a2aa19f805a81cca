"""What the commands that read the configuration share: load the settings the way startup does
(one `error: ...` line on stderr when they are bad) and open the store they name.

A helper that fails prints and returns None; the command returns its own exit code, and keeps
its own message for a store that does not open (the commands differ in what they do then).
Not a command group: `router/cli.py` skips `_`-prefixed modules.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from router.settings import Settings, load_settings_from_environment
from router.settings_parsers import SettingsError

if TYPE_CHECKING:
    from router.store.store import Store


def load_settings_or_none(env_file: str | None, *, configure_logs: bool = False
                          ) -> Settings | None:
    """The settings from `.env` (or `env_file`) and the environment, or None after printing
    `error: <why>` on stderr. `configure_logs`: then set up logging as they say."""
    try:
        settings = load_settings_from_environment(env_file)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if configure_logs:
        # Imported here: `router.observe` loads the metrics and the location model.
        from router.observe import configure_logging

        configure_logging(settings.log_level, settings.log_format.value)
    return settings


def open_settings_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The store at E911_DATABASE_URL with the configured bind prefixes (migrated unless
    `migrate=False`); the caller closes it (`contextlib.closing`)."""
    # Imported here so commands that never open the store do not load SQLAlchemy and the drivers.
    from router.location.bindings import BindPrefixes
    from router.store.store import open_store

    return open_store(settings.database_url, migrate=migrate,
                      bind_prefixes=BindPrefixes(settings.bind_prefix_v4, settings.bind_prefix_v6))
