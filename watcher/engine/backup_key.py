"""Is ``backup.password`` the one the existing snapshots were written with?

A crypt remote with a wrong password does not fail: it skips every name it cannot decrypt, so
the snapshot folder looks empty ("0 snapshots") and a new snapshot would start a second series
under the wrong password beside the first. Before listing or writing snapshots, the objects
under ``backup.remote_path`` are counted on the provider remote itself: encrypted objects there
of which none decrypts mean the password is wrong (files with names crypt cannot have written,
such as a desktop client's ``.DS_Store``, do not count).
"""

from __future__ import annotations

from watcher.engine.session import Session
from watcher.errors import SyncFailed
from watcher.plan import remote_root
from watcher.plan.snapshots import backup_remote_name, looks_encrypted
from watcher.rclone import list_files


class WrongBackupPassword(SyncFailed):
    """Snapshot objects exist that this password cannot decrypt (exit 1)."""


async def check_backup_password(session: Session) -> None:
    """Raise :class:`WrongBackupPassword` when the backup folder holds encrypted objects and
    not one of them decrypts with the configured password; return when any decrypts or none
    exist (other files there, e.g. a ``.DS_Store``, do not count)."""
    cfg = session.cfg
    decrypted = await list_files(session.rc, f"{backup_remote_name(cfg)}:")
    if decrypted:
        return
    folder = remote_root(cfg, cfg.backup.remote_path)
    raw = [e for e in await list_files(session.rc, folder) or [] if looks_encrypted(e.path)]
    if not raw:
        return
    # a snapshot that landed between the two listings (a daemon's first one) is in ``raw``
    # and was not yet in ``decrypted``: list the crypt remote again, after ``raw``
    if await list_files(session.rc, f"{backup_remote_name(cfg)}:"):
        return
    where = f"{cfg.config_path}" + (" or its secrets_file" if cfg.secrets_file else "")
    raise WrongBackupPassword(
        f"{len(raw)} snapshot objects in {folder} cannot be decrypted with this password: "
        f"backup.password (in {where}) is not the one they were written with; set the right "
        "one (no snapshot is taken or listed until then, so no second series starts under "
        "another password)"
    )
