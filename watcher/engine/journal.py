"""The drain's journal: every inbound file it has claimed or landed and not yet finished,
written before each step so that a rerun after a crash neither loses nor duplicates a file.

It lives in the state folder of the workspace + remote pair (one drain per pair, whatever
config file names it); a journal left in a config's own state folder by an older version is
merged in once, and removed only after the merged journal was written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from watcher.engine.state import read_json, write_json
from watcher.rclone import Entry


@dataclass
class JournalEntry:
    """One inbound file: its path in ``_outbox`` as sent, its identity, its claimed copy
    (``claim``, a path in ``_outbox``; ``""`` in journals of older versions: not claimed) and
    its local name in ``_inbox``."""

    remote: str
    size: int
    mtime: float
    target: str
    landed: bool = False
    claim: str = ""

    @property
    def where(self) -> str:
        """Where the file is in ``_outbox`` now."""
        return self.claim or self.remote

    def matches(self, entry: Entry) -> bool:
        """True when the remote ``entry`` is the version this journal entry recorded."""
        return entry.size == self.size and abs(entry.mtime - self.mtime) < 1e-3


def read_journal(path: Path) -> list[JournalEntry]:
    """The entries of the journal at ``path`` (empty when missing or unreadable; keys of
    other versions are ignored)."""
    raw = read_json(path, [])
    if not isinstance(raw, list):
        return []
    fields = set(JournalEntry.__dataclass_fields__)
    return [
        JournalEntry(**{k: v for k, v in item.items() if k in fields})
        for item in raw
        if isinstance(item, dict)
    ]


class KnownVersions:
    """The outbox versions (path, size, mtime) a journal knows, looked up with the tolerance of
    :meth:`JournalEntry.matches`. Keys with the mtime rounded to 1 ms split two readings of one
    mtime that fall on either side of a rounding boundary (a claim listed by rclone vs the
    journal's copy): the file then got a second entry, landed once and failed once."""

    def __init__(self, entries: Iterable[JournalEntry]) -> None:
        self._mtimes: dict[tuple[str, int], list[float]] = {}
        for entry in entries:
            self._mtimes.setdefault((entry.where, entry.size), []).append(entry.mtime)

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, tuple) or len(version) != 3:
            return False
        path, size, mtime = version
        return any(abs(mtime - m) < 1e-3 for m in self._mtimes.get((path, size), ()))


def merge_journals(*journals: list[JournalEntry]) -> list[JournalEntry]:
    """Every entry of every journal, once: entries for the same remote version and local name
    are one (landed if either says so); different local names for one version are all kept (a
    file that may have landed twice is better than one that may be lost)."""
    merged: dict[tuple[str, int, float, str], JournalEntry] = {}
    for journal in journals:
        for entry in journal:
            key = (entry.where, entry.size, round(entry.mtime, 3), entry.target)
            if key in merged:
                merged[key].landed |= entry.landed
            else:
                merged[key] = JournalEntry(**asdict(entry))
    return list(merged.values())


class Journal:
    """The pair's journal file, with the carry-over of an older version's journal."""

    def __init__(self, path: Path, legacy: Path) -> None:
        self.path = path
        self.legacy = legacy
        self._carry_over = False

    def load(self) -> list[JournalEntry]:
        """The pair's journal merged with a journal left in the config's own state folder by
        an older version (dropped by the next :meth:`save`, never before)."""
        entries = read_journal(self.path)
        if self.legacy != self.path and self.legacy.exists():
            entries = merge_journals(entries, read_journal(self.legacy))
            self._carry_over = True
        return entries

    def save(self, entries: list[JournalEntry]) -> None:
        """Write the journal atomically."""
        write_json(self.path, [asdict(e) for e in entries])
        if self._carry_over:  # its entries are in the pair's journal now
            self.legacy.unlink(missing_ok=True)
            self._carry_over = False
