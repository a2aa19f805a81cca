"""The call records' chain key: an HMAC-SHA256 key (RFC 2104) kept outside the store.

Without a secret, anyone who can write the database can rewrite a record and recompute every
later hash (issue 13, finding 11). With the key, a rewritten record no longer matches its MAC
unless the forger also holds the key, which the database never sees.

Where the key comes from, in order (docs/observability.md, "The key"):

1. `E911_RECORDS_KEY`: the key itself (32 characters or more, e.g. `openssl rand -hex 32`);
2. the file `E911_RECORDS_KEY_FILE` (default `var/records.key`): its first line; the file must
   not be readable by group or others (like an SSH private key);
3. neither: `run` and `worker` create that file (64 hex characters from `secrets`, mode 0600,
   atomically: several workers starting together end with one key) and log
   `e911.records.key_created` with its path and key id. Read-only commands (`records verify`,
   the API's verify) never create one: they say the key is missing.

The key is never printed or logged; `key_id` (16 hex characters of an HMAC of a constant) names
it in logs, the head log and the store (`call_record_head.key_id`), so a host started with
another key is caught at its first append instead of forking the chain.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from router.settings import Settings

log = structlog.get_logger("router.records.key")

MIN_KEY_CHARS = 32
DEFAULT_KEY_FILE = Path("var/records.key")
_KEY_ID_LABEL = b"e911-router call records key id"


class RecordKeyError(RuntimeError):
    """No usable key: missing, too short, or a key file with unsafe permissions."""


@dataclass(frozen=True, slots=True)
class RecordKey:
    """The chain key. `secret` never appears in repr, logs or output."""

    secret: bytes = field(repr=False)
    source: str
    """Where it came from: "E911_RECORDS_KEY" or the key file's path."""

    @property
    def key_id(self) -> str:
        return hmac.new(self.secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]

    def mac(self, message: bytes) -> str:
        """Hex HMAC-SHA256 of `message`."""
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def key_from_text(text: str, source: str) -> RecordKey:
    """Pure: the key in `text` (surrounding blanks ignored)."""
    value = text.strip()
    if len(value) < MIN_KEY_CHARS:
        raise RecordKeyError(f"{source}: the records key needs at least {MIN_KEY_CHARS} "
                             f"characters (e.g. `openssl rand -hex 32`)")
    return RecordKey(value.encode("utf-8"), source)


def read_key_file(path: Path) -> RecordKey:
    """The key in `path`; refuses a file group or others may read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordKeyError(f"E911_RECORDS_KEY_FILE={path}: no such file; set "
                             f"E911_RECORDS_KEY, or let `e911-router run` create it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordKeyError(f"E911_RECORDS_KEY_FILE={path}: cannot read it "
                             f"({type(exc).__name__})") from None
    if stat.S_IMODE(mode) & 0o077:
        raise RecordKeyError(f"E911_RECORDS_KEY_FILE={path}: readable by group or others "
                             f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}`")
    first = text.splitlines()[0] if text else ""
    return key_from_text(first, str(path))


def create_key_file(path: Path) -> tuple[RecordKey, bool]:
    """Write a new random key to `path` (mode 0600) unless one appears there first; return
    the key the file holds afterwards and whether this call wrote it. Safe when several
    processes race: the file is written whole under a temporary name and linked into place,
    so nobody reads half a key."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise RecordKeyError(
            f"E911_RECORDS_KEY_FILE={path}: cannot create it ({exc.strerror or exc}); create "
            f"it yourself (`openssl rand -hex 32 > {path}; chmod 600 {path}`) or set "
            f"E911_RECORDS_KEY") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        created = False
        with contextlib.suppress(FileExistsError):  # another process made it first: use it
            os.link(temporary, path)
            created = True
    finally:
        temporary.unlink(missing_ok=True)
    return read_key_file(path), created


def load_key(key_text: str, key_file: Path, *, create: bool) -> tuple[RecordKey, bool]:
    """The key from the settings' `E911_RECORDS_KEY` text or `key_file`; with `create`, a
    missing file is made. Returns the key and whether it was just created."""
    if key_text:
        return key_from_text(key_text, "E911_RECORDS_KEY"), False
    if create and not key_file.exists():
        return create_key_file(key_file)
    return read_key_file(key_file), False


def records_key(settings: Settings, *, create: bool) -> RecordKey:
    """The key the settings name (`E911_RECORDS_KEY`, else `E911_RECORDS_KEY_FILE`); with
    `create` (`run`, `worker`) a missing key file is made and `e911.records.key_created` logged.
    Raises `RecordKeyError`."""
    key, created = load_key(settings.records_key, settings.records_key_file, create=create)
    if created:
        log.warning("e911.records.key_created", path=str(settings.records_key_file),
                    key_id=key.key_id,
                    note="keep a copy; every host sharing this store needs the same key")
    return key
