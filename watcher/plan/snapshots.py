"""Names on the backup (crypt) remote: its rclone remote name, snapshot file names and where
snapshots live while uploading and once complete (pure)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from watcher.config import Config

#: Complete snapshots; only these are listed, restored and pruned.
SNAPSHOTS = "snapshots"
#: Snapshots being uploaded; moved to :data:`SNAPSHOTS` only after the upload succeeded.
INCOMPLETE = "incomplete"
SUFFIX = ".tar"
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^(\d{8}T\d{6}Z)\.tar$")


def backup_remote_name(cfg: Config) -> str:
    """The crypt remote the tool writes into its rclone.conf: ``<remote_name>-backup``."""
    return f"{cfg.remote_name}-backup"


def snapshot_name(when: datetime) -> str:
    """The file name of a snapshot taken at ``when``, e.g. ``20261126T002345Z.tar`` (UTC)."""
    return when.astimezone(timezone.utc).strftime(_STAMP) + SUFFIX


def snapshot_time(name: str) -> datetime | None:
    """The UTC time in a snapshot file name, or ``None`` for a name the tool did not write."""
    match = _NAME.match(name)
    if not match:
        return None
    return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=timezone.utc)


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
