"""The settle rule for inbound files: take a file only once it is complete.

Servers that write uploads in place under the final name (SFTP, FTP, WebDAV, a local folder)
show a file while it is still growing. A file counts as settled when its size and mtime have
not changed for ``outbox_settle`` seconds:

- on a provider-``local`` remote (same clock as ours) when its mtime is that old, or
- anywhere, when this tool has seen the same size and mtime for that long (``sightings``,
  kept in the state folder, so clock skew between us and a server never matters);

and, where the files are on this machine, when no process has it open for writing. Object
stores (S3, Dropbox, Drive, OneDrive …) show an upload only once it is complete, so they skip
the wait.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from watcher.config import Config
from watcher.engine.settle import WRITER_RECHECK
from watcher.engine.state import read_json, write_json
from watcher.rclone import Entry
from watcher.rclone.encoding import local_name

#: rclone backends whose uploads appear whole (object stores, cloud drives).
ATOMIC_BACKENDS = frozenset(
    {"s3", "dropbox", "drive", "onedrive", "b2", "azureblob", "gcs", "swift", "box", "pcloud"}
)
_PROVIDER_BACKENDS = {"s3": "s3", "dropbox": "dropbox", "gdrive": "drive", "onedrive": "onedrive"}

#: Returns those of the given local paths that some process has open for writing.
WriterCheck = Callable[[list[Path]], set[Path]]


def uploads_atomic(cfg: Config) -> bool:
    """True when ``cfg``'s remote shows uploads only once complete (no settle wait needed)."""
    backend = _PROVIDER_BACKENDS.get(cfg.provider)
    if cfg.provider == "custom":
        backend = str(cfg.provider_options.get("rclone_type", ""))
    return backend in ATOMIC_BACKENDS


@dataclass
class Sighting:
    """When this tool first saw a file with this size and mtime."""

    size: int
    mtime: float
    first_seen: float


@dataclass
class Readiness:
    """Inbound files split into those to take now and those still being written."""

    ready: list[Entry] = field(default_factory=list)
    waiting: list[Entry] = field(default_factory=list)
    #: Seconds until the first waiting file may have settled.
    recheck: float | None = None
    #: Seconds until every waiting file may have settled (if none changes meanwhile).
    all_by: float = 0.0

    def wait(self, entry: Entry, seconds: float) -> None:
        """Note ``entry`` as not settled yet, to be looked at in ``seconds``."""
        self.waiting.append(entry)
        seconds = max(seconds, 0.05)
        self.recheck = seconds if self.recheck is None else min(self.recheck, seconds)
        self.all_by = max(self.all_by, seconds)


class Settler:
    """Applies the settle rule to listings of one inbound folder."""

    def __init__(
        self,
        settle: float,
        sightings_file: Path,
        *,
        atomic: bool = False,
        local_root: Path | None = None,
        writers: WriterCheck | None = None,
    ) -> None:
        self.settle = settle
        self.sightings_file = sightings_file
        self.atomic = atomic
        self.local_root = local_root
        self.writers = writers

    def split(self, entries: Iterable[Entry], now: float) -> Readiness:
        """Which of ``entries`` are settled at ``now`` (records new sightings)."""
        result = Readiness()
        entries = list(entries)
        if self.settle <= 0 or self.atomic:
            result.ready = entries
            self._check_writers(result)  # no quiet time asked for, but never a half-written file
            return result
        known = self._load()
        seen: dict[str, Sighting] = {}
        for entry in entries:
            sighting = known.get(entry.path)
            if sighting is None or (sighting.size, sighting.mtime) != (entry.size, entry.mtime):
                sighting = Sighting(entry.size, entry.mtime, now)
            seen[entry.path] = sighting
            quiet = now - sighting.first_seen
            if self.local_root is not None and entry.mtime <= now + 1.0:
                quiet = max(quiet, now - entry.mtime)
            if quiet >= self.settle:
                result.ready.append(entry)
            else:
                result.wait(entry, self.settle - quiet)
        self._check_writers(result)
        if seen != known:
            write_json(
                self.sightings_file, {p: [s.size, s.mtime, s.first_seen] for p, s in seen.items()}
            )
        return result

    def busy(self, entries: Iterable[Entry]) -> list[Entry]:
        """Those of ``entries`` that a process on this machine has open for writing (only
        where the files are on this machine)."""
        check = Readiness(ready=list(entries))
        self._check_writers(check)
        return check.waiting

    def _check_writers(self, result: Readiness) -> None:
        """Hold back local files that a process still has open for writing."""
        if self.local_root is None or self.writers is None or not result.ready:
            return
        paths = {self.local_root / local_name(e.path): e for e in result.ready}
        busy = self.writers(list(paths))
        if busy:
            result.ready = [e for p, e in paths.items() if p not in busy]
            for path in busy:
                result.wait(paths[path], WRITER_RECHECK)

    def _load(self) -> dict[str, Sighting]:
        raw = read_json(self.sightings_file, {})
        known: dict[str, Sighting] = {}
        if isinstance(raw, dict):
            for path, value in raw.items():
                if isinstance(value, list) and len(value) == 3:
                    known[path] = Sighting(int(value[0]), float(value[1]), float(value[2]))
        return known
