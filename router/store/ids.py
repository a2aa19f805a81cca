"""Record ids: opaque, sortable in creation order (cursor pagination is `id > cursor`)."""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    """An opaque id like `adr_01j9...`: 48 bits of milliseconds then 80 random bits, in
    Crockford base32, so ids sort in creation order and cursor pagination is `id > cursor`."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
