"""``e911-router kamailio-config``: write (and check) the Kamailio front's configuration.

Renders `kamailio.cfg` and `dispatcher.list` into E911_KAMAILIO_RUN_DIR (or `--output DIR`) from
the same settings and dial plan the workers use, then runs `kamailio -c` on them. `--stdout`
prints the config instead of writing it. Exit 0 when written (and checked), 2 on a bad setting
or a config Kamailio refuses (its message on stderr).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from router.commands._common import load_settings_or_none
from router.kamailio.front import FrontConfig, front_config
from router.kamailio.render import check, render, write
from router.settings import KAMAILIO_CTL_SOCKET_NAME, Settings
from router.settings_parsers import SettingsError

EXIT_CONFIG = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("kamailio-config",
                            help="write the Kamailio front's config from the settings")
    parser.add_argument("--output", type=Path, default=None,
                        help="directory to write to (default: E911_KAMAILIO_RUN_DIR)")
    parser.add_argument("--stdout", action="store_true",
                        help="print kamailio.cfg instead of writing files")
    parser.add_argument("--no-check", action="store_true", help="skip `kamailio -c`")
    parser.add_argument("--env-file", help="read this file instead of .env")
    parser.set_defaults(handler=_command)


def prepare(settings: Settings, run_dir: Path | None = None, *, run_check: bool = True
            ) -> FrontConfig:
    """Render, write and check the front's files; raise SettingsError naming what is wrong."""
    front = front_config(settings, (run_dir or settings.kamailio_run_dir).resolve())
    write(front, render(front))
    if run_check:
        binary = kamailio_binary(settings)
        result = check(binary, front.cfg_path)
        if not result.ok:
            last = result.output.splitlines()[-3:] if result.output else ["(no output)"]
            raise SettingsError(f"kamailio -c refused {front.cfg_path}: " + " | ".join(last))
    return front


def kamailio_binary(settings: Settings) -> str:
    name = str(settings.kamailio_binary)
    found = shutil.which(name)
    if found is None:
        raise SettingsError(f"E911_KAMAILIO_BINARY={name!r}: not found (Debian package "
                            "kamailio; ./scripts/run installs it)")
    return found


def kamcmd_binary(settings: Settings) -> str:
    """Kamailio's RPC client beside the Kamailio binary we run (the same package ships both),
    else whatever `kamcmd` is on PATH."""
    beside = Path(shutil.which(str(settings.kamailio_binary)) or "kamailio").with_name("kamcmd")
    return str(beside) if beside.is_absolute() and beside.exists() else "kamcmd"


def ctl_socket(settings: Settings) -> Path:
    """The front's ctl socket (kamailio.cfg.tmpl's `ctl` modparam): stats and htable RPCs."""
    return settings.kamailio_run_dir.resolve() / KAMAILIO_CTL_SOCKET_NAME


def _command(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file)
    if settings is None:
        return EXIT_CONFIG
    try:
        if args.stdout:
            front = front_config(settings, (args.output or settings.kamailio_run_dir).resolve())
            sys.stdout.write(render(front).cfg)
            return 0
        front = prepare(settings, args.output, run_check=not args.no_check)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"wrote {front.cfg_path} and {front.dispatcher_path}"
          + ("" if args.no_check else " (kamailio -c: OK)"))
    return 0
