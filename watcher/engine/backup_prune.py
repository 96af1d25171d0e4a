"""``backup prune``: delete the snapshots the retention policy does not keep, and interrupted
uploads and stray manifests in ``snapshots/`` once they are old enough that no upload can still
be in flight.

Only ``snapshots/`` is listed and only names the tool wrote are deleted. The ``incomplete/``
folder where earlier versions uploaded is no longer swept (issue 19): listing it cost an
rclone call on every prune and failed on FTP servers that answer a missing folder with
``501``. What an old version may have left there is never read; ``rclone purge
<remote_name>-backup:incomplete`` removes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from loguru import logger

from watcher.engine.backup import (
    Snapshot,
    complete_snapshots,
    require_backup,
    snapshot_layout,
)
from watcher.engine.lock import LOCK_WAIT
from watcher.engine.session import Session
from watcher.errors import SyncFailed
from watcher.plan.retention import keep
from watcher.plan.snapshots import SNAPSHOTS, Layout, crypt_path, manifest_name, snapshot_time
from watcher.rclone import Entry

#: Interrupted uploads (a ``.tar`` without manifest) older than this are removed by prune (a
#: snapshot in flight holds the run lock, so only another machine's upload could be younger).
INCOMPLETE_GRACE = 3600.0


@dataclass
class PruneReport:
    """What a prune kept and deleted (or would, with ``dry_run``)."""

    kept: list[Snapshot]
    deleted: list[Snapshot]
    #: Interrupted uploads and stray manifests removed, as ``snapshots/<name>``.
    leftovers: list[str]
    dry_run: bool = False


async def prune_snapshots(
    session: Session, *, dry_run: bool = False, lock_wait: float = LOCK_WAIT
) -> PruneReport:
    """Delete the snapshots the retention policy does not keep (with their manifests), and
    interrupted uploads and stray manifests older than :data:`INCOMPLETE_GRACE`, under the run
    lock. Files whose names the tool did not write are never deleted."""
    cfg = session.cfg
    require_backup(cfg)
    policy = cfg.backup
    async with session.run_lock(lock_wait):
        entries, layout = await snapshot_layout(session)
        snapshots = complete_snapshots(entries, layout)
        ours = [s for s in snapshots if snapshot_time(s.name) is not None]
        kept_times = keep(
            (s.time for s in ours),
            policy.keep_last,
            policy.keep_daily,
            policy.keep_weekly,
            policy.keep_monthly,
        )
        doomed = [s for s in ours if s.time not in kept_times]
        kept = [s for s in snapshots if s not in doomed]
        stale = stale_leftovers(entries, layout, time.time())
        if not dry_run:
            names = [n for s in doomed for n in (manifest_name(s.name), s.name)]
            await _delete(session, names + stale)
    report = PruneReport(kept, doomed, [f"{SNAPSHOTS}/{name}" for name in stale], dry_run)
    logger.info(
        "backup prune: {} {} snapshots, kept {}",
        "would delete" if dry_run else "deleted",
        len(doomed),
        len(kept),
    )
    return report


def stale_leftovers(entries: dict[str, Entry], layout: Layout, now: float) -> list[str]:
    """Interrupted uploads and stray manifests in ``snapshots/`` older than
    :data:`INCOMPLETE_GRACE` at ``now``."""
    cutoff = now - INCOMPLETE_GRACE
    return [n for n in layout.unfinished + layout.stray_manifests if entries[n].mtime < cutoff]


async def _delete(session: Session, names: list[str]) -> None:
    if not names:
        return
    result = await session.rc.run(
        ["delete", crypt_path(session.cfg, SNAPSHOTS)], files_from=names, per_file=True
    )
    if not result.ok:
        raise SyncFailed(f"deleting old snapshots failed: {result.message()}")
