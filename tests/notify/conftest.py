"""Notification tests: a real SMTP server (aiosmtpd on 127.0.0.1, a free port) and the store on
SQLite and PostgreSQL (the store suite's fixtures: a file in tmp_path, a fresh PG schema).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.smtp_server import SmtpServer
from tests.support.stores import open_another, store  # noqa: F401


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()
