"""`e911-router config show|check` never print a secret (issue 13, finding 9): database and
webhook URL passwords, userinfo and query tokens, admin tokens, the SMTP password, and every
*_TOKEN(S)/*_KEY/*_SECRET/*PASSWORD value. The real command runs in a subprocess; its stdout
and stderr must hold the variable's name and the URL's harmless parts, never the secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from router.redaction import is_secret_variable, redact_url, redacted
from tests.support.secrets_sample import (
    ADMIN_TOKEN,
    DB_PASSWORD,
    HOOK_PASSWORD,
    HOOK_QUERY_TOKEN,
    HOOK_USER,
    RECORDS_KEY,
    SECRET_ENV,
    SMTP_PASSWORD,
    WEBHOOK_SECRET,
    assert_no_secret,
)

ROOT = Path(__file__).resolve().parents[2]


def config(action: str, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    """`e911-router config ACTION` with only `env` as E911_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    return subprocess.run([sys.executable, "-m", "router", "config", action, *extra],
                          cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
                          timeout=60, check=False)


def test_config_show_prints_urls_without_their_secrets() -> None:
    """Passwords, a webhook's userinfo, path token and query values, and whole-secret
    settings are masked; scheme, user names, hosts, ports and harmless options stay."""
    done = config("show", SECRET_ENV)
    assert done.returncode == 0, done.stderr
    assert_no_secret(done.stdout, done.stderr)
    shown = json.loads(done.stdout)
    assert shown["database_url"] == (
        "postgresql://e911:***@db.example.com:5432/e911?sslmode=require&password=***")
    assert shown["webhook_url"] == "https://***@hooks.example.com/e911/***?token=***"
    assert shown["smtp_url"] == "smtp+starttls://mailer%40example.com:***@mail.example.com:587"
    assert (shown["admin_tokens"], shown["webhook_secret"]) == ("<set>", "<set>")
    assert shown["records_key"] == "<set>"


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("E911_DATABASE_URL", f"mysql://e911:{DB_PASSWORD}@db.example.com/e911",
     "'mysql://e911:***@db.example.com/e911': must start with sqlite:/// or postgresql://"),
    ("E911_DATABASE_URL", f"postgresql://e911:{DB_PASSWORD}@db.example.com:99999/e911",
     "'postgresql://e911:***@db.example.com:99999/e911': port must be between 1 and 65535"),
    ("E911_WEBHOOK_URL", f"ftp://{HOOK_USER}:{HOOK_PASSWORD}@hooks.example.com/x"
                         f"?token={HOOK_QUERY_TOKEN}",
     "'ftp://***@hooks.example.com/x?token=***': must be an http:// or https:// URL"),
    ("E911_SMTP_URL", f"smtp://mailer:{SMTP_PASSWORD}@mail.example.com:0",
     "'smtp://mailer:***@mail.example.com:0': port must be between 1 and 65535"),
    ("E911_WEBHOOK_SECRET", f"whsec-{WEBHOOK_SECRET}\nmore",
     "'<hidden>': must not contain line breaks or NUL"),
    ("E911_RECORDS_KEY", f"{RECORDS_KEY}\n", "'<hidden>': must not contain line breaks or NUL"),
    ("E911_ADMIN_TOKENS", f"{ADMIN_TOKEN},short",
     "'<hidden>': each token needs at least 16 characters"),
])
def test_config_check_names_the_variable_but_not_the_secret(name: str, value: str,
                                                           shown: str) -> None:
    """A bad secret-bearing value is reported by name with its secret parts masked."""
    done = config("check", {name: value})
    assert done.returncode == 2, done.stdout
    assert_no_secret(done.stdout, done.stderr)
    assert done.stderr.startswith(f"error: {name}={shown}"), done.stderr


def test_config_check_reads_secrets_from_an_env_file_without_echoing(tmp_path: Path) -> None:
    """The same masking for values read from --env-file (a misspelt secret variable is
    named, its value is not)."""
    env_file = tmp_path / "e911.env"
    env_file.write_text(f"E911_WEBHOOK_URL=https://hooks.example.com/e911\n"
                        f"E911_WEBHOOK_SECRT={WEBHOOK_SECRET}\n")
    done = config("check", {}, "--env-file", str(env_file))
    assert done.returncode == 2
    assert_no_secret(done.stdout, done.stderr)
    assert done.stderr == ("error: E911_WEBHOOK_SECRT: unknown setting "
                           "(did you mean E911_WEBHOOK_SECRET?)\n")


@pytest.mark.parametrize(("url", "shown"), [
    ("sqlite:///var/e911.db", "sqlite:///var/e911.db"),
    ("postgresql://e911@db/e911?options=-csearch_path%3Dx",
     "postgresql://e911@db/e911?options=-csearch_path%3Dx"),
    ("postgresql://e911:pw@db/e911?sslpassword=k&connect_timeout=3",
     "postgresql://e911:***@db/e911?sslpassword=***&connect_timeout=3"),
    ("https://TOKEN1234567890abcdef@hooks.example.com/in", "https://***@hooks.example.com/in"),
    ("https://hooks.slack.com/services/T0001/B0002/XXXXxxxxXXXXxxxx1234",
     "https://hooks.slack.com/services/T0001/B0002/***"),
    ("https://hooks.example.com/e911#frag-secret", "https://hooks.example.com/e911#***"),
    ("https://hooks.example.com/in?Bare0Token0123", "https://hooks.example.com/in?***"),
    ("http://[::1:8080/x", "<hidden: not a URL>"),
])
def test_redact_url_keeps_what_identifies_the_endpoint(url: str, shown: str) -> None:
    """Scheme, host, port, database name and harmless options stay readable."""
    assert redact_url(url) == shown


def test_which_variables_are_secret() -> None:
    """Any *_TOKEN(S), *_KEY, *_SECRET or *PASSWORD variable is secret as a whole; URLs are
    masked part by part; a key *file* is a path, not a secret."""
    assert all(map(is_secret_variable, ("E911_ADMIN_TOKENS", "E911_RECORDS_KEY",
                                        "E911_WEBHOOK_SECRET", "E911_SMTP_PASSWORD",
                                        "E911_API_TOKEN")))
    assert not any(map(is_secret_variable, ("E911_RECORDS_KEY_FILE", "E911_DATABASE_URL",
                                            "E911_TOKENIZER", "E911_LOG_LEVEL")))
    assert redacted("E911_WEBHOOK_SECRET", "abc") == "<hidden>"
    assert redacted("E911_WEBHOOK_SECRET", "") == ""
    assert redacted("E911_LOG_LEVEL", "debug") == "debug"
