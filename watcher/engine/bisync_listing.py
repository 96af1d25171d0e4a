"""Reading rclone bisync's listing files (``*.path1.lst``, ``*.path2.lst``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from watcher.engine.bisync_types import LOCAL_TOLERANCE
from watcher.rclone.ops import parse_time

#: ``{path: (size, mtime)}`` of one side, as bisync's listing file holds it.
Listing = dict[str, tuple[int, float]]


def parse_listing(path: Path) -> Listing:
    """``{path: (size, mtime)}`` from the bisync listing file ``path`` (``{}`` when it cannot
    be read; lines it cannot parse are skipped)."""
    entries: Listing = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return entries
    for line in lines:
        match = _LISTING_LINE.match(line)
        if not match:
            continue
        try:
            name = json.loads(match.group(3))
        except ValueError:
            continue
        entries[name] = (int(match.group(1)), parse_time(match.group(2)))
    return entries


def listed_version(size: int, mtime_ns: int, entry: tuple[int, float] | None) -> bool:
    """True when a file of ``size`` bytes modified at ``mtime_ns`` is the version the bisync
    listing ``entry`` records: the same size and the same mtime (within ``LOCAL_TOLERANCE``:
    the listing's times, read as float seconds, keep no finer); ``False`` without an entry."""
    if entry is None:
        return False
    return size == entry[0] and abs(mtime_ns / 1e9 - entry[1]) < LOCAL_TOLERANCE


_LISTING_LINE = re.compile(r'^- +(-?\d+) \S+ \S+ (\S+) (".*")$')
