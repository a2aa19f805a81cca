"""Fixtures for the front: a SQLite store with a located caller (1001 at 127.0.0.1), an
unlocated one (2002) and a PBX phone (3003) whose address is bound to 10.1.2.3 only, which no
INVITE comes from: it is located only when a PBX names that device address
(tests/support/seeded_store.py)."""

from tests.support.seeded_store import front_store_url

__all__ = ["front_store_url"]
