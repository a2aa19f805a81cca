"""Render kamailio.cfg + dispatcher.list from a `FrontConfig`, write them, check them.

`render()` is pure (text in, text out); `write()` and `check()` touch the file system and run
`kamailio -c`. The template is `kamailio.cfg.tmpl` beside this module; its `{{name}}` holes are
filled here, and a hole left unfilled (or a value nobody asked for) is a bug that stops
rendering rather than a config Kamailio would half understand.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from router.kamailio.announce import announce_values
from router.kamailio.front import (
    DIALOG_TIMEOUT_SECONDS,
    EMERGENCY_RETRIES,
    RETRY_AFTER_SECONDS,
    WORKER_BEHIND_SECONDS,
    FrontConfig,
)
from router.kamailio.ng911 import ng911_values
from router.settings_parsers import IPNetwork

TEMPLATE = Path(__file__).with_name("kamailio.cfg.tmpl")
_HOLE = re.compile(r"\{\{([a-z_]+)\}\}")
_CFG_STRING_UNSAFE = re.compile(r'["\\\r\n$]')
_REGEX_UNSAFE = re.compile(r'["\\\r\n]|\$(?!\)|$)')
TRUNK_URI_RE = r"sips?:(911|933)@[][A-Za-z0-9.:-]+(;[A-Za-z0-9=._-]+)*"
"""An emergency trunk Request-URI as `router.call.emergency_invite.trunk_request_uri` writes it:
what the front accepts in a worker's 302 Contact and X-E911-Fallback (issue 10)."""


class RenderError(ValueError):
    """The template and the values do not fit (a programming error, not a user's)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    cfg: str
    dispatcher_list: str
    registration_secret: str = ""
    """`registrations-secret.cfg`: the API token kamailio.cfg imports (issue 17), kept out of
    kamailio.cfg because `kamailio-config --stdout` prints that."""
    front_decide_boot: str = ""
    """`front-decide.py`: the script app_python3 loads (issue 19), empty when
    E911_FRONT_DECISIONS=workers."""


REGISTRATION_SECRET_FILE = "registrations-secret.cfg"  # noqa: S105 (a file name)
FRONT_DECIDE_BOOT_FILE = "front-decide.py"
_TOKEN_SAFE = re.compile(r"[A-Za-z0-9._~+/=-]+")


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    output: str
    """Kamailio's own words (stderr) when the check failed."""


def render(front: FrontConfig, template: str | None = None) -> Rendered:
    text = TEMPLATE.read_text() if template is None else template
    values = _values(front)
    wanted = set(_HOLE.findall(text))
    missing = wanted - values.keys()
    unused = values.keys() - wanted
    if missing or unused:
        raise RenderError(f"template holes without values: {sorted(missing)}; values without "
                          f"holes: {sorted(unused)}")
    cfg = _HOLE.sub(lambda m: values[m.group(1)], text)
    return Rendered(cfg, _dispatcher_list(front), _registration_secret(front),
                    _front_decide_boot(front))


def write(front: FrontConfig, rendered: Rendered) -> None:
    front.run_dir.mkdir(parents=True, exist_ok=True)
    front.cfg_path.write_text(rendered.cfg)
    front.dispatcher_path.write_text(rendered.dispatcher_list)
    # Owner only, from its creation on: the file holds an administrator token.
    secret = front.run_dir / REGISTRATION_SECRET_FILE
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(rendered.registration_secret)
    boot = front.run_dir / FRONT_DECIDE_BOOT_FILE
    if rendered.front_decide_boot:
        boot.write_text(rendered.front_decide_boot)
    else:
        boot.unlink(missing_ok=True)


def check(binary: str, cfg_path: Path, timeout_seconds: float = 30.0) -> CheckResult:
    """`kamailio -c`: parse errors, unknown modules and parameters (not a misspelt route name or
    an empty dispatcher set: only a call proves those)."""
    try:
        proc = subprocess.run([binary, "-c", "-f", str(cfg_path)], capture_output=True,
                              text=True, timeout=timeout_seconds, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return CheckResult(False, f"{binary}: {exc}")
    output = proc.stderr.strip()
    return CheckResult(proc.returncode == 0, output)


def _values(front: FrontConfig) -> dict[str, str]:
    patterns = front.patterns
    for expression in (patterns.emergency, patterns.test, patterns.sos_urn, patterns.test_urn):
        # A regex constant: `$` only as the end anchor (Kamailio reads `$name` as a variable).
        if _REGEX_UNSAFE.search(expression):
            raise RenderError(f"{expression!r} cannot be written as a Kamailio regex string")
    return {
        "debug_level": str(front.debug_level),
        "children": str(front.children),
        "listen": _listen_lines(front),
        "device_ip_header": _cfg_string(front.device_ip_header),
        "worker_timeout_ms": str(front.worker_timeout_ms),
        "emergency_timeout_ms": str(front.emergency_timeout_ms),
        "trunk_timeout_ms": str(front.trunk_timeout_ms),
        "dispatcher_list": _cfg_string(str(front.dispatcher_path)),
        "ping_host": _cfg_string(_uri_host(front.listen.host)),
        "pike_density": str(max(front.source_limit, 1)),
        "rate_limit_cps": str(front.rate_limit_cps),
        "worker_count": str(len(front.workers)),
        "reserved_workers_on": "1 == 1" if front.emergency_workers else "0 == 1",
        "reserved_worker_count": str(len(front.emergency_workers)),
        "untrusted_condition": _outside(front.trusted_peers),
        "pbx_condition": _inside(front.pbx_peers),
        "sos_urn_re": patterns.sos_urn,
        "test_urn_re": patterns.test_urn,
        "emergency_re": patterns.emergency,
        "test_re": patterns.test,
        "source_limit_check": _source_limit_check(front),
        "retry_after_seconds": str(RETRY_AFTER_SECONDS),
        "sorting_center_cases": _cases(front.sorting_center),
        "test_cases": _cases(front.test_trunks),
        "ctl_socket": _cfg_string(str(front.run_dir / "kamailio.ctl")),
        "cid_domain": _cfg_string(_cid_domain(front.listen.host)),
        "trunk_uri_re": TRUNK_URI_RE,
        "route_cache_on": "1 == 1" if front.route_cache_seconds > 0 else "0 == 1",
        "route_cache_seconds": str(front.route_cache_seconds),
        "route_cache_half": str(max(1, front.route_cache_seconds // 2)),
        "dialog_timeout": str(DIALOG_TIMEOUT_SECONDS),
        "behind_seconds": str(WORKER_BEHIND_SECONDS),
        "emergency_retries": str(EMERGENCY_RETRIES),
        "any_worker_count": str(len(front.workers) + len(front.emergency_workers)),
        "any_worker_cases": _cases(front.workers + front.emergency_workers, "$du"),
        "tcp_lifetime_seconds": str(front.tcp_lifetime_seconds),
        **announce_values(front.announce),  # issue 16: router/kamailio/announce.py
        **ng911_values(front.ng911, _cid_domain(front.listen.host)),  # issue 18
        "registrations_define": ("#!define E911_REGISTRATIONS" if front.registration_url else
                                 "# No E911_ADMIN_TOKENS: no token to call the API with, so the"
                                 " front takes no registrations."),
        "registration_secret_file": _cfg_string(str(front.run_dir / REGISTRATION_SECRET_FILE)),
        "registration_url": _cfg_string(front.registration_url or "http://127.0.0.1:9/"),
        "front_decisions_define": ("#!define E911_FRONT_DECISIONS" if front.decisions else
                                   "# E911_FRONT_DECISIONS=workers: every call goes to a worker."),
        "front_decide_boot": _cfg_string(str(front.run_dir / FRONT_DECIDE_BOOT_FILE)),
    }


def _front_decide_boot(front: FrontConfig) -> str:
    """The script app_python3 loads: the router and its virtualenv first on `sys.path` (the
    system's dist-packages after them), then `mod_init` from router/kamailio/kemi.py, told
    the directory `run` works in (Kamailio changes its own to /)."""
    if not front.decisions:
        return ""
    return (
        '"""Written by `e911-router kamailio-config` (router/kamailio/render.py): do not edit.\n'
        'Kamailio\'s app_python3 loads it (E911_FRONT_DECISIONS=python)."""\n'
        "import site\n"
        "import sys\n\n"
        f"PATH = {list(front.python_path)!r}\n"
        f"WORKDIR = {str(front.workdir)!r}  # Kamailio runs in /: .env, a relative SQLite path\n"
        "sys.path[:0] = [p for p in PATH if p not in sys.path]\n"
        "for entry in PATH[1:]:\n"
        "    site.addsitedir(entry)  # its .pth files\n\n"
        "try:\n"
        "    from router.kamailio import kemi\n\n"
        "    def mod_init():\n"
        "        return kemi.mod_init(WORKDIR)\n"
        "except Exception as exc:  # Kamailio must start anyway: every call to a worker\n"
        "    sys.stderr.write(f'e911.front.decide_unavailable error={exc!r}\\n')\n\n"
        "    class _Off:\n"
        "        def child_init(self, rank):\n"
        "            return 0\n\n"
        "        def decide(self, msg):\n"
        "            return -1  # python_exec false: route FRONT_DECIDE sends it to a worker\n\n"
        "    def mod_init():\n"
        "        return _Off()\n"
    )


def _registration_secret(front: FrontConfig) -> str:
    """`#!subst` replaces REGISTRATION_BEARER in the strings of kamailio.cfg after the import
    (Kamailio's preprocessor; `|` never occurs in a token)."""
    token = front.registration_token
    if not token:
        return "# no administrator token: the front takes no registrations\n"
    if not _TOKEN_SAFE.fullmatch(token):
        raise RenderError("an E911_ADMIN_TOKENS token cannot be written for the front")
    return f'#!subst "|REGISTRATION_BEARER|{token}|"\n'


def _cid_domain(host: str) -> str:
    """RFC 2392 Content-ID domain of the PIDF-LO part the front builds: as the bridge does
    (router.call.emergency_invite), a fixed .invalid name where the host is an IPv6 literal."""
    return "e911-router.invalid" if ":" in host else host


def _listen_lines(front: FrontConfig) -> str:
    host = _uri_host(front.listen.host)
    lines = [f"listen=udp:{host}:{front.listen.port}"]
    if "tcp" in front.transports:
        lines += [
            f"listen=tcp:{host}:{front.listen.port}",
            "# SIP/TCP (issue 13): a connection lives E911_KAMAILIO_TCP_IDLE_SECONDS without a",
            "# trusted peer's complete message (route TCP_LIFETIME lengthens it after one), so",
            "# silent connections cannot hold the slots; one open file per connection.",
            f"tcp_max_connections={front.tcp_max_connections}",
            f"tcp_connection_lifetime={front.tcp_idle_seconds}",
            f"open_files_limit={front.tcp_max_connections + 1024}",
        ]
    else:
        lines.append("disable_tcp=yes")
    return "\n".join(lines)


def _uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _subnets(networks: tuple[IPNetwork, ...]) -> str:
    return ",".join(str(n) for n in networks)


def _inside(networks: tuple[IPNetwork, ...]) -> str:
    if not networks:
        return "0 == 1"
    return f'is_in_subnet("$si", "{_subnets(networks)}")'


def _outside(networks: tuple[IPNetwork, ...]) -> str:
    if not networks:
        return "1 == 1"
    return f'!is_in_subnet("$si", "{_subnets(networks)}")'


def _source_limit_check(front: FrontConfig) -> str:
    if front.source_limit == 0:
        return "\t# E911_KAMAILIO_SOURCE_LIMIT=0: no per-sender limit."
    return (
        f"\t# A PBX speaks for many phones: only direct senders are limited per address.\n"
        f"\tif (!{_inside(front.pbx_peers)} && !pike_check_req()) {{\n"
        f'\t\txlog("L_WARN", "e911.front.source_blocked source=$si\\n");\n'
        f"\t\texit;\n"
        f"\t}}"
    )


def _cases(targets: tuple[str, ...], variable: str = "$var(target)") -> str:
    lines = []
    for index, target in enumerate(targets):
        lines += [f"\t\t\tcase {index}:",
                  f'\t\t\t\t{variable} = "{_cfg_string(target)}";',
                  "\t\t\t\tbreak;"]
    return "\n".join(lines)


def _cfg_string(text: str) -> str:
    """A value placed inside a "..." of the config: no quote, backslash, line break or `$`
    (Kamailio would read a pseudo-variable) may reach it."""
    if _CFG_STRING_UNSAFE.search(text):
        raise RenderError(f"{text!r} cannot be written inside a Kamailio string")
    return text


def _dispatcher_list(front: FrontConfig) -> str:
    lines = ["# setid destination flags priority: set 1 = the ordinary workers, set 2 = the",
             "# workers reserved for 911/933 (written by `e911-router kamailio-config`;",
             "# flags 0 = active, probed by OPTIONS)"]
    lines += [f"1 {_cfg_string(uri)} 0 0" for uri in front.workers]
    lines += [f"2 {_cfg_string(uri)} 0 0" for uri in front.emergency_workers]
    return "\n".join(lines) + "\n"
