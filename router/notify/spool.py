"""The local spool: where a notice waits when the store cannot take it (one JSON file a call,
`var/spool/notifications/<call_ref>.json`), until the recorder imports it.

Files are written atomically and durably by `router.spool.JsonSpool`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from router.notify.model import EmergencyCallNotice
from router.spool import JsonSpool

DEFAULT_SPOOL_DIR = Path("var/spool/notifications")


class Spool:
    """Notices waiting for the store, one `<call_ref>.json` each (see `router.spool`)."""

    def __init__(self, directory: Path = DEFAULT_SPOOL_DIR) -> None:
        self.directory = directory
        self._files = JsonSpool(directory)

    def write(self, notice: EmergencyCallNotice) -> Path:
        return self._files.write(notice.call_ref, notice.to_json())

    def paths(self) -> list[Path]:
        """Spooled files, oldest first (by modification time, then name)."""
        return self._files.paths()

    def items(self) -> Iterator[tuple[Path, EmergencyCallNotice | ValueError]]:
        """(path, notice) for each spooled file; a file that does not parse yields the error."""
        for path, text in self._files.texts():
            try:
                yield path, EmergencyCallNotice.from_json(text)
            except (ValueError, KeyError, TypeError) as exc:
                yield path, ValueError(f"{path.name}: {exc}")

    def remove(self, path: Path) -> None:
        self._files.remove(path)

    def quarantine(self, path: Path) -> Path:
        """Keep a file that does not parse out of the way (`.bad`), for a person to read."""
        return self._files.quarantine(path)

    def __len__(self) -> int:
        return self._files.count()
