"""What the checker sees after a batch: the digest of every file of every place, the mirror
backups, each machine's ``status --json`` and excludes. Places are named

- ``"<machine>"``: that machine's sync root (``_inbox/`` of a gateway included);
- ``"<machine>:ingest"``: a mirror's local ingest folder;
- ``"<machine>:backups"``: the files under its state dir's ``mirror-backups/``;
- ``"remote"``: the whole remote root (its ``_outbox/`` included).

Relative paths are POSIX strings decoded with ``os.fsdecode`` (invalid UTF-8 survives as
surrogate escapes); contents are SHA-256 hex digests."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REMOTE = "remote"


@dataclass
class ReadStats:
    """What :func:`digest_tree` read in this process (the soak's "files and bytes checked")."""

    files: int = 0
    bytes: int = 0


STATS = ReadStats()


def digest(data: bytes) -> str:
    """SHA-256 hex of ``data``: how the oracle names a version."""
    return hashlib.sha256(data).hexdigest()


def ingest_place(machine: str) -> str:
    """The place name of ``machine``'s ingest folder."""
    return f"{machine}:ingest"


def backups_place(machine: str) -> str:
    """The place name of ``machine``'s mirror backups."""
    return f"{machine}:backups"


def digest_tree(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every regular file under ``root`` (``{}`` when missing).
    Symlinks and special files are not followed or read; files removed mid-walk are left out."""
    out: dict[str, str] = {}
    if not root.is_dir():
        return out
    for folder, dirs, files in os.walk(os.fsencode(root)):
        for name in files:
            path = os.path.join(folder, name)
            try:
                if not os.path.isfile(path) or os.path.islink(path):
                    continue
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            STATS.files += 1
            STATS.bytes += len(data)
            rel = os.path.relpath(path, os.fsencode(root))
            out[os.fsdecode(rel).replace(os.sep, "/")] = digest(data)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return out


@dataclass(frozen=True)
class Snapshot:
    """Every place's files, each machine's status and excludes, at one quiet moment."""

    trees: Mapping[str, Mapping[str, str]]
    statuses: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    excludes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: machine -> its mode (``mailbox`` / ``mirror`` / ``bisync``)
    modes: Mapping[str, str] = field(default_factory=dict)
    #: whether the world reached quiescence before the snapshot, and why not
    quiet: bool = True
    why_not_quiet: str = ""
