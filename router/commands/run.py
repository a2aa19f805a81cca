"""`e911-router run`: the router on one host, supervised.

With `E911_FRONT=kamailio` (the default): Kamailio listens on E911_SIP_LISTEN and spreads calls
over E911_WORKERS workers on E911_WORKER_LISTEN's host, ports port .. port + N - 1 (plus any
E911_KAMAILIO_REMOTE_WORKERS); each worker trusts only the front, which checks the real
E911_TRUSTED_PEERS and passes the device's address in E911_DEVICE_IP_HEADER. With
`E911_FRONT=none`: N workers on E911_SIP_LISTEN's port and the next ones, no front.

Also started when their commands exist: the HTTP API (`api`) and the notification sender
(`notify sender`). Before anything starts, every port is checked and Kamailio's rendered
configuration is checked with `kamailio -c`: a taken port or a refused config is one line on
stderr and exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import shutil
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from router.commands._common import load_settings_or_none, open_settings_store
from router.commands.kamailio import ctl_socket, kamailio_binary, kamcmd_binary, prepare
from router.deploy import Front
from router.kamailio.announce import front_announces
from router.kamailio.front import FrontConfig, front_peers, local_workers
from router.settings import Settings
from router.settings_parsers import HostPort, SettingsError
from router.supervisor import ChildKind, ChildSpec, PortTaken, Supervisor, check_port_free

if TYPE_CHECKING:
    from router.kamailio.cache import RouteCacheFlusher

EXIT_CONFIG = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("run", help="run the router (front, workers, API, notification "
                                        "sender)")
    parser.add_argument("--env-file", help="read this file instead of .env")
    parser.add_argument("--trunk-probe-seconds", type=float, default=10.0,
                        help="OPTIONS-probe every trunk this often for e911_trunk_up "
                             "(0: never; default 10)")
    parser.set_defaults(handler=_run_command)


def worker_environment(settings: Settings, address: HostPort) -> tuple[tuple[str, str], ...]:
    """What one worker process is told on top of the shared settings: its own address, and,
    behind the front, that it has no front of its own and trusts only the front (whose
    device-IP header it then believes)."""
    env = [("E911_SIP_LISTEN", str(address)), ("E911_WORKERS", "1"), ("E911_FRONT", "none")]
    # Issue 16: a worker hands announcements to the front only when this front plays them.
    env.append(("E911_ANNOUNCE_PATH", "front" if front_announces(settings) else "worker"))
    if settings.front is Front.KAMAILIO:
        peers = ",".join(str(n) for n in front_peers(settings))
        env += [("E911_TRUSTED_PEERS", peers), ("E911_PBX_PEERS", peers),
                ("E911_DEVICE_IP_REQUIRED", "yes")]  # the front always sends it (issue 13)
    return tuple(env)


def worker_children(settings: Settings, env_file: str | None) -> list[ChildSpec]:
    return [
        ChildSpec(f"worker-{k}", _router_argv(("worker",), env_file), ChildKind.WORKER,
                  env=worker_environment(settings, address), sip_probe=address)
        for k, address in enumerate(local_workers(settings), start=1)
    ]


def service_children(env_file: str | None, *, has_api: bool, has_sender: bool
                     ) -> list[ChildSpec]:
    specs = []
    if has_api:
        specs.append(ChildSpec("api", _router_argv(("api",), env_file), ChildKind.SERVICE))
    if has_sender:
        specs.append(ChildSpec("notify-sender", _router_argv(("notify", "sender"), env_file),
                               ChildKind.SERVICE))
    return specs


def kamailio_child(settings: Settings, front: FrontConfig, binary: str,
                   env_file: str | None = None) -> ChildSpec:
    """`-DD`: the main process stays in the foreground (our child) and forks its receivers;
    `-E`: log to stderr (ours); `-m`/`-M`: shared / private memory in MB (DESIGN.md: 64 MB of
    shared memory fails at 500 calls/s). `--env-file` reaches Kamailio's Python (front
    decisions, issue 19) as E911_ENV_FILE: it reads the same settings as the workers."""
    argv = (binary, "-DD", "-E", "-f", str(front.cfg_path),
            "-m", str(settings.kamailio_shm_mb), "-M", str(settings.kamailio_pkg_mb),
            "-Y", str(front.run_dir))
    env = (("E911_ENV_FILE", str(Path(env_file).resolve())),) if env_file else ()
    return ChildSpec("kamailio", argv, ChildKind.FRONT, env=env, own_group=True)


def check_ports(settings: Settings, *, has_api: bool) -> None:
    """Every port this host will listen on, before anything starts (PortTaken names it)."""
    kinds = [socket.SOCK_DGRAM] + ([socket.SOCK_STREAM] if "tcp" in settings.sip_transports
                                   else [])
    if settings.front is Front.KAMAILIO:
        check_port_free(f"E911_SIP_LISTEN={settings.sip_listen} (Kamailio)",
                        settings.sip_listen, kinds)
        base = "E911_WORKER_LISTEN"
    else:
        base = "E911_SIP_LISTEN"
    for k, address in enumerate(local_workers(settings), start=1):
        check_port_free(f"{base} (worker {k} on {address})", address, kinds)
    if has_api:
        check_port_free(f"E911_API_LISTEN={settings.api_listen}", settings.api_listen,
                        [socket.SOCK_STREAM])


def build_children(settings: Settings, env_file: str | None, *, has_api: bool,
                   has_sender: bool) -> list[ChildSpec]:
    """Check ports, render and check the front's config, and list the children to start."""
    check_ports(settings, has_api=has_api)
    children = worker_children(settings, env_file)
    children += service_children(env_file, has_api=has_api, has_sender=has_sender)
    if settings.front is Front.KAMAILIO:
        binary = kamailio_binary(settings)
        front = prepare(settings)
        if front.announce.on:
            children.append(announcer_child(settings))
        children.append(kamailio_child(settings, front, binary, env_file))
    return children


def announcer_child(settings: Settings) -> ChildSpec:
    """rtpengine for E911_ANNOUNCE_PATH=front (issue 16): its ports checked, its config written
    from the settings; ready (and Kamailio started) once it answers an ng ping."""
    from router.kamailio.rtpengine import (
        check_rtpengine_ports,
        ng_ping,
        rtpengine_child,
        rtpengine_config,
        write_conf,
    )

    config = rtpengine_config(settings)
    if shutil.which(config.binary) is None:
        raise SettingsError(f"E911_RTPENGINE_BINARY={config.binary!r}: not found (Debian "
                            "package rtpengine-daemon; ./scripts/run installs it), or set "
                            "E911_ANNOUNCE_PATH=worker")
    check_rtpengine_ports(config)
    write_conf(config)
    spec = rtpengine_child(config)
    return dataclasses.replace(spec, ready=lambda: ng_ping(config.ng))


def _router_argv(args: tuple[str, ...], env_file: str | None) -> tuple[str, ...]:
    argv = (sys.executable, "-m", "router", *args)
    return (*argv, "--env-file", str(Path(env_file).resolve())) if env_file else argv


def _run_command(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file, configure_logs=True)
    if settings is None:
        return EXIT_CONFIG
    # The call records' chain key, made on the first start when none is given (issue 13):
    # here, once, before the workers that append with it (router/records/key.py).
    from router.records.key import RecordKeyError, records_key

    try:
        records_key(settings, create=True)
    except RecordKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    has_api = importlib.util.find_spec("router.commands.api") is not None
    has_sender = importlib.util.find_spec("router.commands.notify") is not None
    try:
        children = build_children(settings, args.env_file, has_api=has_api,
                                  has_sender=has_sender)
    except (PortTaken, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    # Metrics endpoint, trunk probes, outbox age: docs/observability.md.
    from router.metrics_server import host_observability, with_child_env

    host = host_observability(settings, probe_seconds=args.trunk_probe_seconds)
    if settings.front is Front.KAMAILIO:
        from router.kamailio.stats import FrontStatsCollector

        host.registry.register(FrontStatsCollector(ctl_socket(settings),
                                                   binary=kamcmd_binary(settings)))
    flusher = route_cache_flusher(settings)
    supervisor = Supervisor(with_child_env(children, host), on_exit=host.child_exited)
    host.children = supervisor.status
    try:
        return supervisor.run()
    finally:
        if flusher is not None:
            flusher.stop()
        host.stop()


def route_cache_flusher(settings: Settings) -> RouteCacheFlusher | None:
    """With the front's route cache on, the watcher that empties it when locations change
    (router/kamailio/cache.py); started here, stopped by the caller."""
    if settings.front is not Front.KAMAILIO or settings.kamailio_route_cache_seconds == 0:
        return None
    from router.kamailio.cache import RouteCacheFlusher, kamcmd_flush

    store = open_settings_store(settings, migrate=False)
    flush = kamcmd_flush(ctl_socket(settings), binary=kamcmd_binary(settings))
    return RouteCacheFlusher(store.change_seq, flush).start()
