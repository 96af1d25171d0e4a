"""mirror's record of "what the last pull wrote", and the backups it decides about.

A pull runs ``rclone sync remote local --backup-dir <state>/mirror-backups/<stamp>``: every local
file it overwrites or deletes is moved into that folder first. Afterwards a backed-up file that
is exactly what a pull wrote (same size and modification time as the record says) is dropped as
pristine; every other one is a local edit and stays.

The record (``mirror-manifest.json``) is built from the remote's listing (the one the guard takes
before the run, or one taken after a forced run) and the sizes rclone logged for the files it
transferred, never from a walk of the local disk: a file created or edited locally while the
pull ran has another mtime than the remote's listing and so counts as an edit. Only a pull that
succeeded writes a new record; a failed or partial one leaves the previous record, which still
describes states a pull wrote (a spurious backup is possible, a lost edit is not).

On a backend without modification times (WebDAV ``vendor = other``: listed times are upload
times) the pull compares by size only (``--size-only``; ``--checksum`` with a hash but no
modtime): rclone still gives every file it transfers the listed time, but leaves a file of the
same size alone, also when the remote's listed time changed (a re-upload of the same bytes). For
such a pull the record keeps, for a file it did not transfer, the previous record's entry (what
an earlier pull wrote there), not the new listing's time; a file without one is left out.

The file is ``{"version": 2, "precision": seconds, "files": {path: [size, mtime]}}``, the
precision being the remote's (``rclone backend features``, asked beside the guard's
listings). Anything else (the older ``{path: [size, mtime]}`` form, which a walk of the local
disk wrote, even after a failed pull) reads as an empty record: every backup is kept until the
next good pull writes a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from watcher.engine.state import read_json, write_json
from watcher.rclone import Entry
from watcher.rclone.features import MODTIME_NOT_SUPPORTED_NS

MANIFEST_VERSION = 2
#: Two modification times closer than this are the same (float rounding of nanoseconds)...
MIN_SLACK = 1e-5
#: ...and never further apart than this, whatever the backend's precision.
MAX_SLACK = 1e-3


@dataclass(frozen=True)
class Written:
    """What a pull left in one local file: its size and modification time (POSIX seconds)."""

    size: int
    mtime: float


@dataclass(frozen=True)
class PullRecord:
    """The files the last successful pull wrote, by path relative to the sync root."""

    files: Mapping[str, Written] = field(default_factory=dict)
    #: The remote's modtime precision in seconds when the record was made (None: unknown).
    precision: float | None = None


def build_record(
    listing: Iterable[Entry],
    sizes: Mapping[str, int],
    precision: float | None,
    carried: PullRecord | None = None,
) -> PullRecord:
    """The record after a successful pull: each file of the remote's ``listing`` (which the
    pull made the local side equal to), unless rclone transferred it with another size than
    listed (the remote changed in between: unknown, so left out). Entries without a
    modification time are left out too. With ``carried`` (the previous record, for a pull
    that compared without modtimes), a file the pull did not transfer keeps its entry there
    when the size matches, and is left out otherwise."""
    files: dict[str, Written] = {}
    for entry in listing:
        if entry.mtime <= 0 or entry.size < 0:
            continue
        if entry.path in sizes and sizes[entry.path] != entry.size:
            continue
        if carried is not None and entry.path not in sizes:
            earlier = carried.files.get(entry.path)
            if earlier is not None and earlier.size == entry.size:
                files[entry.path] = earlier
            continue
        files[entry.path] = Written(entry.size, entry.mtime)
    return PullRecord(files, precision)


def without_modtimes(compare: Iterable[str], precision: float | None) -> bool:
    """True when a pull run with the compare flags ``compare`` from a remote of modtime
    ``precision`` (seconds) leaves same-size files alone whatever their listed times: size
    only or checksum compares, or a remote without modtimes (rclone compares sizes then,
    flag or not)."""
    no_modtimes = precision is not None and precision * 1e9 >= MODTIME_NOT_SUPPORTED_NS
    return no_modtimes or bool({"--size-only", "--checksum"} & set(compare))


def parse_record(data: Any) -> PullRecord:
    """Read a stored record; anything not of the current form (the old walk-of-the-disk
    manifest, damaged data) is an empty record, and malformed entries are skipped."""
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        return PullRecord()
    raw = data.get("files")
    if not isinstance(raw, dict):
        return PullRecord()
    files: dict[str, Written] = {}
    for path, value in raw.items():
        if (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], int)
            and isinstance(value[1], (int, float))
        ):
            files[str(path)] = Written(value[0], float(value[1]))
    precision = data.get("precision")
    return PullRecord(files, float(precision) if isinstance(precision, (int, float)) else None)


def dump_record(record: PullRecord) -> dict[str, Any]:
    """The JSON form of ``record`` (see :func:`parse_record`)."""
    files = {path: [w.size, w.mtime] for path, w in record.files.items()}
    return {"version": MANIFEST_VERSION, "precision": record.precision, "files": files}


def is_pristine(record: PullRecord, rel: str, size: int, mtime_ns: int) -> bool:
    """True when the backed-up file ``rel`` (``size`` bytes, modified at ``mtime_ns``) is
    exactly what a pull wrote: the same size and, within the remote's precision but never
    looser than :data:`MAX_SLACK`, the same modification time (rclone gives a file it pulls
    the listed time, also from a backend without modtimes). When the remote's precision is
    unknown, nothing is pristine (when in doubt, keep the backup)."""
    written, precision = record.files.get(rel), record.precision
    if written is None or precision is None:
        return False
    slack = min(max(precision, MIN_SLACK), MAX_SLACK)
    return written.size == size and abs(written.mtime - mtime_ns / 1e9) <= slack


def read_record(path: Path) -> PullRecord:
    """The stored record (empty when missing, old or damaged)."""
    return parse_record(read_json(path, None))


def write_record(path: Path, record: PullRecord) -> None:
    """Store ``record`` atomically."""
    write_json(path, dump_record(record))


def drop_pristine(backup_dir: Path, record: PullRecord) -> int:
    """Delete the files in ``backup_dir`` that :func:`is_pristine` calls pristine and the
    folders left empty; return how many backed-up files remain."""
    kept = 0
    for path in sorted(backup_dir.rglob("*"), reverse=True):
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()):
                path.rmdir()
            continue
        st = path.lstat()
        rel = path.relative_to(backup_dir).as_posix()
        if not path.is_symlink() and is_pristine(record, rel, st.st_size, st.st_mtime_ns):
            path.unlink()
        else:
            kept += 1
    if backup_dir.exists() and not any(backup_dir.iterdir()):
        backup_dir.rmdir()
    if kept:
        logger.debug("{} backed-up files differ from what the last pull wrote", kept)
    return kept
