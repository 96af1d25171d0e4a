"""Incremental push: send only the paths that changed (``rclone sync --files-from-raw``).

rclone copies each listed path that exists locally and deletes at the destination each listed
path that no longer exists locally; unlisted files are left alone. Deletions are checked against
the destination size seen by the last full push, so a vanished workspace cannot delete the
remote copy file by file: such a change set is handed back for a full, guarded push. So is a
change set holding a path the list cannot carry verbatim (a newline or carriage return in a
name, which would split into two entries, the second of which ``sync`` might delete remotely;
or a ``‛``/control picture rclone would decode into another name): a full ``rclone sync``
carries such names itself. Names that are not valid UTF-8 are listed as their raw bytes.

FIFOs, sockets and devices are left out of the list (rclone would open a FIFO and block until
its ``timeout``, and fail on a socket; full runs skip them too) and reported once at INFO. A
listed path that is now a folder was a file (or is new): a file ↔ folder change is handed to
the full push, which deletes the old side first (:mod:`watcher.engine.typechange`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from pathlib import Path

from watcher.engine.guard import MIN_FILES_FOR_PERCENT
from watcher.engine.oneway import record_from
from watcher.engine.session import Session
from watcher.engine.state import RunRecord
from watcher.errors import SyncFailed
from watcher.fsutil import special_kind
from watcher.log import info_once
from watcher.plan import Step
from watcher.rclone.encoding import listable
from watcher.rclone.features import listed_push_flags


class NeedsFullPush(Exception):
    """The change set cannot be pushed incrementally; run the full, guarded push instead."""


def too_many_deletes(deletes: int, known_dest_files: int | None, max_delete: int) -> bool:
    """True when ``deletes`` exceed ``max_delete`` % of the destination as last seen (unknown
    destination sizes count as too many when anything is deleted)."""
    if deletes == 0 or max_delete >= 100:
        return False
    if known_dest_files is None:
        return True
    if known_dest_files < MIN_FILES_FOR_PERCENT:
        return deletes >= known_dest_files
    return deletes * 100 > max_delete * known_dest_files


async def run_incremental_push(
    session: Session,
    step: Step,
    paths: Collection[str],
    *,
    known_dest_files: int | None,
) -> RunRecord:
    """Push ``paths`` (relative to the sync root) only. Raises :class:`NeedsFullPush` when the
    sync root is gone, a path cannot be listed or the deletions need the full guard,
    :class:`SyncFailed` on failure."""
    started = time.time()
    root = Path(step.src)
    if not root.is_dir():
        raise NeedsFullPush(f"{root} is missing")
    paths = _regular(root, paths)
    if not paths:
        return RunRecord("push", True, "nothing to push", started, time.time() - started)
    folders = sorted(
        rel for rel in paths if not (root / rel).is_symlink() and (root / rel).is_dir()
    )
    if folders:
        raise NeedsFullPush(f"{folders[0]!r} is a folder now (a file ↔ folder change)")
    links = sorted(rel for rel in paths if (root / rel).is_symlink())
    if links and not (session.cfg.copy_symlinks and all((root / r).exists() for r in links)):
        # A listed path is opened by rclone: --skip-links does not apply to it, and a
        # dangling link fails the run. The full push skips (or follows) links as configured
        # and deletes what a link replaced.
        raise NeedsFullPush(f"{links[0]!r} is a symlink")
    odd = sorted(rel for rel in paths if not listable(rel))
    if odd:
        raise NeedsFullPush(f"{len(odd)} name(s) a files-from list cannot carry: {odd[0]!r}")
    deletes = sum(1 for rel in paths if not os.path.lexists(root / rel))
    if too_many_deletes(deletes, known_dest_files, session.cfg.max_delete):
        raise NeedsFullPush(f"{deletes} deletions")
    # The paths are already filtered: rclone will not combine --files-from-raw with filters.
    # Listed paths are known to have changed: on a backend whose modtimes cannot tell two
    # versions of one size apart, upload them regardless (--ignore-times).
    compare = listed_push_flags(await session.features())
    result = await session.rc.run(
        ["sync", step.src, step.dst, "--no-traverse", *session.link_args(), *compare],
        files_from=sorted(paths),
    )
    record = record_from(
        "push", result, started, dry_run=False, extra=f" ({len(paths)} changed paths)"
    )
    if not record.ok:
        raise SyncFailed(f"push failed: {record.message}")
    return record


def _regular(root: Path, paths: Collection[str]) -> list[str]:
    """``paths`` without FIFOs, sockets and devices, and symlinks to them (with
    ``copy_symlinks`` rclone would open a FIFO through the link and hang), each reported once
    at INFO."""
    kept: list[str] = []
    for rel in paths:
        kind = special_kind(root / rel)
        if kind is None and (root / rel).is_symlink():
            target = special_kind(root / rel, follow=True)
            kind = None if target is None else f"a symlink to a {target}"
        if kind is None:
            kept.append(rel)
        else:
            info_once(f"special:{rel}", "{}: not a regular file ({}): skipped", rel, kind)
    return kept
