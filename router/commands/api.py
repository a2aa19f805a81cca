"""`e911-router api`: serve the HTTP API (docs/api.md) with uvicorn on `E911_API_LISTEN`.

The device's network, when a softphone binds its address, is the TCP peer of the request. Run
behind a reverse proxy only with `--forwarded-allow-ips` naming that proxy, so that its
`X-Forwarded-For` is believed and nobody else's is.

SIGTERM or Ctrl-C stops it cleanly: no new connections, open event streams closed after a
grace period, the webhook sender stopped. uvicorn then re-raises the signal, so the process
ends "killed by SIGTERM" (status -15 / 143), which supervisors read as a requested stop.
Exit code 2: bad configuration (one line on stderr).
"""

from __future__ import annotations

import argparse

from router.commands._common import load_settings_or_none, open_settings_store

EXIT_CONFIG = 2
GRACEFUL_SHUTDOWN_SECONDS = 5


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("api", help="serve the HTTP API on E911_API_LISTEN")
    parser.add_argument("--env-file", help="read this file instead of .env")
    parser.add_argument(
        "--forwarded-allow-ips", default="", metavar="IPS",
        help="comma list of reverse-proxy addresses whose X-Forwarded-For is trusted "
             "(default: none; the TCP peer is the client)")
    parser.set_defaults(handler=_api_command)


def _api_command(args: argparse.Namespace) -> int:
    # Imported here: other commands must not pay for FastAPI, uvicorn and the store.
    import structlog
    import uvicorn

    from router.api import create_app
    from router.api.server import JsonErrorH11Protocol

    settings = load_settings_or_none(args.env_file, configure_logs=True)
    if settings is None:
        return EXIT_CONFIG
    log = structlog.get_logger("router.commands.api")
    if not settings.admin_tokens:
        log.warning("e911.api.no_admin_tokens",
                    hint="set E911_ADMIN_TOKENS; without one nobody can issue user tokens")
    store = open_settings_store(settings)
    try:
        app = create_app(settings, store)
        trusted = args.forwarded_allow_ips.strip()
        log.info("e911.api.listening", listen=str(settings.api_listen),
                 store=store.describe(), proxy_headers=bool(trusted))
        uvicorn.run(
            app, host=settings.api_listen.host, port=settings.api_listen.port,
            proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS, access_log=False,
            log_level=settings.log_level, server_header=False, http=JsonErrorH11Protocol)
    finally:
        store.close()
    return 0
