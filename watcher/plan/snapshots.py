"""Names on the backup (crypt) remote: its rclone remote name, snapshot file names, and which
objects in ``snapshots/`` form complete snapshots (pure).

A snapshot ``<stamp>.tar`` is streamed straight into ``snapshots/``; only after that upload
succeeded is its manifest ``<stamp>.json`` written beside it. The manifest is the commit: a
``.tar`` without a non-empty manifest is an interrupted upload (it may hold a truncated stream)
and is never listed, restored or counted by the retention policy. (The manifest's upload is
started early and fed its few hundred bytes in one write at the end; if the tool dies first, it
can only store an empty manifest, which commits nothing.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from watcher.config import Config

#: Snapshots and their manifests.
SNAPSHOTS = "snapshots"
SUFFIX = ".tar"
MANIFEST_SUFFIX = ".json"
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^(\d{8}T\d{6}Z)\.tar$")


@dataclass(frozen=True)
class Layout:
    """What a listing of ``snapshots/`` holds."""

    #: Snapshots the tool wrote whose manifest exists (complete).
    complete: list[str]
    #: Snapshots the tool wrote without a manifest (interrupted uploads).
    unfinished: list[str]
    #: Manifests whose snapshot is missing.
    stray_manifests: list[str]
    #: ``.tar`` files the tool did not name (put there by hand); listed, never deleted.
    foreign: list[str]


def backup_remote_name(cfg: Config) -> str:
    """The crypt remote the tool writes into its rclone.conf: ``<remote_name>-backup``."""
    return f"{cfg.remote_name}-backup"


def snapshot_name(when: datetime) -> str:
    """The file name of a snapshot taken at ``when``, e.g. ``20261126T002345Z.tar`` (UTC)."""
    return when.astimezone(timezone.utc).strftime(_STAMP) + SUFFIX


def manifest_name(snapshot: str) -> str:
    """The manifest that commits ``snapshot``: ``20261126T002345Z.tar`` -> ``…Z.json``."""
    return snapshot.removesuffix(SUFFIX) + MANIFEST_SUFFIX


def snapshot_time(name: str) -> datetime | None:
    """The UTC time in a snapshot file name, or ``None`` for a name the tool did not write."""
    match = _NAME.match(name)
    if not match:
        return None
    return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=timezone.utc)


def classify(sizes: Mapping[str, int]) -> Layout:
    """Sort the files of a ``snapshots/`` listing (name -> size) into complete snapshots,
    interrupted uploads, stray manifests and foreign archives (each sorted by name)."""
    tars = sorted(n for n in sizes if n.endswith(SUFFIX) and "/" not in n)
    ours = [n for n in tars if snapshot_time(n) is not None]
    complete = [n for n in ours if sizes.get(manifest_name(n), 0) > 0]
    stray = sorted(
        n
        for n in sizes
        if n.endswith(MANIFEST_SUFFIX)
        and snapshot_time(tar := n.removesuffix(MANIFEST_SUFFIX) + SUFFIX) is not None
        and (tar not in sizes or sizes[n] <= 0)
    )
    return Layout(
        complete=complete,
        unfinished=[n for n in ours if n not in complete],
        stray_manifests=stray,
        foreign=[n for n in tars if snapshot_time(n) is None],
    )


def normalize_snapshot(name: str) -> str | None:
    """A user's SNAPSHOT argument (``X``, ``X.tar`` or ``snapshots/X.tar``) as a file name,
    or ``None`` when it cannot name a snapshot."""
    base = name.strip().removeprefix(f"{SNAPSHOTS}/")
    if not base.endswith(SUFFIX):
        base += SUFFIX
    if "/" in base or base in (SUFFIX, "..tar") or base.startswith("."):
        return None
    return base


def crypt_path(cfg: Config, folder: str, name: str = "") -> str:
    """``<remote_name>-backup:folder[/name]``."""
    rel = f"{folder}/{name}" if name else folder
    return f"{backup_remote_name(cfg)}:{rel}"


#: One name crypt wrote with ``filename_encryption = standard``: base32hex (lowercase, no
#: padding) of a whole number of 16-byte blocks, so at least 26 characters.
_ENCRYPTED_NAME = re.compile(r"^[0-9a-v]{26,}$")


def looks_encrypted(path: str) -> bool:
    """Whether every part of ``path`` (relative, ``/``-separated, as listed on the provider
    remote) could be a name crypt encrypted: a ``.DS_Store`` or a README someone put in the
    backup folder is not, and says nothing about the password."""
    return all(_ENCRYPTED_NAME.match(part) for part in path.split("/"))
