"""A local spool directory: where something that must not be lost (a notification, a call
record) waits while the store cannot take it, one JSON file an item, until it is imported.

Each file is written to a temporary name, fsynced, renamed into place (atomic on POSIX) and
the directory fsynced: a reader sees a whole file or none, and a power cut after `write()`
returns keeps it. Several processes may share a directory: a file another process imported
meanwhile is skipped.
"""

from __future__ import annotations

import os
import queue
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
T = TypeVar("T")


class JsonSpool:
    def __init__(self, directory: Path, pattern: str = "*.json") -> None:
        self.directory = directory
        self.pattern = pattern

    def path_for(self, name: str) -> Path:
        return self.directory / f"{_SAFE.sub('_', name)}.json"

    def write(self, name: str, text: str) -> Path:
        """Store `text` as `<name>.json` atomically and durably."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.path_for(name)
        temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return final

    def paths(self) -> list[Path]:
        """Spooled files, oldest first (by modification time, then name)."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob(self.pattern):
            try:
                found.append((path.stat().st_mtime_ns, path.name, path))
            except FileNotFoundError:
                continue  # imported by another process meanwhile
        return [path for _, _, path in sorted(found)]

    def texts(self) -> Iterator[tuple[Path, str]]:
        """(path, content) for each spooled file still there when read."""
        for path in self.paths():
            try:
                yield path, path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def quarantine(self, path: Path) -> Path:
        """Keep a file that does not parse out of the way (`.bad`), for a person to read."""
        bad = path.with_suffix(".bad")
        os.replace(path, bad)
        return bad

    def count(self) -> int:
        return len(self.paths())


def take_batch(source: queue.Queue[Any] | queue.SimpleQueue[Any], first: T, kind: type[T],
               limit: int, stop: object) -> tuple[list[T], bool]:
    """`first` and the items of `kind` already queued behind it in `source` (never waiting),
    up to `limit` in all: what a writer thread puts in one transaction. The second value is
    True when the `stop` marker came among them (the caller finishes this batch, then stops)."""
    batch, stopped = [first], False
    while len(batch) < limit:
        try:
            item = source.get_nowait()
        except queue.Empty:
            break
        if item is stop:
            stopped = True
            break
        if isinstance(item, kind):
            batch.append(item)
    return batch, stopped
