"""What `e911-router api` and `e911-router msag import` write (stdout, stderr, logs at debug)
holds no secret of their configuration (issue 13, finding 9): a PostgreSQL URL with a
password in its userinfo and in its query, a webhook URL with userinfo, path and query
tokens (failing deliveries are logged), the webhook secret, admin tokens, an SMTP password
and the records key. The store is the test database; PostgreSQL (trust authentication
here) ignores the passwords, so they travel the whole connection path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from router.location.model import DEFAULT_ACCOUNT_ID
from router.store.store import open_store
from tests.support.api_process import start_api
from tests.support.msag_import import SAMPLE
from tests.support.ports import free_port
from tests.support.secrets_sample import (
    ADMIN_TOKEN,
    DB_PASSWORD,
    DB_QUERY_PASSWORD,
    HOOK_PASSWORD,
    HOOK_PATH_TOKEN,
    HOOK_QUERY_TOKEN,
    HOOK_USER,
    RECORDS_KEY,
    SMTP_PASSWORD,
    WEBHOOK_SECRET,
    assert_no_secret,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def secret_url(pg_schema_url: str) -> str:
    """The test schema's URL with a password in the userinfo and in the query."""
    return (pg_schema_url.replace("postgres@", f"postgres:{DB_PASSWORD}@")
            + f"&password={DB_QUERY_PASSWORD}")


@pytest.fixture
def secret_env(secret_url: str) -> Iterator[dict[str, str]]:
    """E911_* settings full of secrets; the webhook points at a closed loopback port."""
    closed = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env.update({
        "E911_DATABASE_URL": secret_url,
        "E911_API_LISTEN": f"127.0.0.1:{free_port()}",
        "E911_ADMIN_TOKENS": ADMIN_TOKEN,
        "E911_WEBHOOK_URL": f"http://{HOOK_USER}:{HOOK_PASSWORD}@127.0.0.1:{closed}/e911/"
                            f"{HOOK_PATH_TOKEN}?token={HOOK_QUERY_TOKEN}",
        "E911_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "E911_SMTP_URL": f"smtp://mailer:{SMTP_PASSWORD}@127.0.0.1:{closed}",
        "E911_RECORDS_KEY": RECORDS_KEY,
        "E911_LOG_FORMAT": "json",
        "E911_LOG_LEVEL": "debug",
    })
    yield env


def test_msag_import_output_holds_no_database_password(secret_env: dict[str, str]) -> None:
    """The import report names the store without either password."""
    done = subprocess.run([sys.executable, "-m", "router", "msag", "import", str(SAMPLE)],
                          cwd=ROOT, env=secret_env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert_no_secret(done.stdout, done.stderr)
    assert "into postgresql+psycopg://postgres:***@127.0.0.1:5432/test?" in done.stdout
    assert "password=***" in done.stdout


def test_api_logs_hold_no_secret(secret_env: dict[str, str], secret_url: str) -> None:
    """Start, requests with good, wrong and malformed credentials, a webhook delivery that
    fails and is retried, SIGTERM: nothing the process wrote holds a secret."""
    port = secret_env["E911_API_LISTEN"].rsplit(":", 1)[1]
    process, seen = start_api(secret_env, ROOT)
    assert process.stdout is not None
    try:
        base = f"http://127.0.0.1:{port}"
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert httpx.get(f"{base}/v1/users", headers=admin).status_code == 200
        assert httpx.get(f"{base}/v1/users",
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}x"}).status_code == 401
        assert httpx.get(f"{base}/v1/events", headers={**admin, "Last-Event-ID": "x"}
                         ).status_code == 400
        store = open_store(secret_url, migrate=False)
        try:
            store.record_event(DEFAULT_ACCOUNT_ID, "network.changed",
                               {"user": "1001", "network": "198.51.100.20/32",
                                "ip": "198.51.100.20"}, sip_user="1001")
        finally:
            store.close()
        for line in process.stdout:  # the failed delivery is logged, then retried
            seen.append(line)
            if "e911.webhook.retry" in line:
                break
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        seen += process.stdout.readlines()
    logged = "".join(seen)
    assert '"event": "e911.webhook.retry"' in logged
    assert '"event": "e911.api.listening"' in logged
    assert_no_secret(logged)
