"""Clear the destination's side of a file ↔ folder change before a one-way sync, so that the
change is pushed (or pulled) as delete + create instead of failing every run (see
:mod:`watcher.plan.typechange`)."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from watcher.engine.session import Session
from watcher.errors import SyncFailed
from watcher.plan import Step, remote_join
from watcher.plan.typechange import type_changes
from watcher.rclone import Entry, RcloneResult, list_files
from watcher.rclone.encoding import listable, without_partial


async def clear_type_changes(
    session: Session,
    step: Step,
    src: list[Entry] | None,
    dst: list[Entry] | None,
    backup_dir: Path | None = None,
) -> int:
    """Delete at ``step.dst`` the files and folders whose type differs from ``step.src`` (by
    the guard's listings ``src`` and ``dst``, none without them); with ``backup_dir`` (a
    pull's), the files are moved there instead, as the pull keeps every local file it
    replaces. Returns how many paths changed type. Raises :class:`SyncFailed` when the old
    side cannot be removed."""
    if src is None or dst is None:
        return 0
    changes = type_changes((e.path for e in src), (e.path for e in dst))
    if not changes or not all(listable(path) for path in changes.files):
        return 0
    inside = tuple(folder + "/" for folder in changes.folders)
    changed = sorted({*changes.folders, *(p for p in changes.files if not p.startswith(inside))})
    logger.info(
        "{}: {} path(s) changed between file and folder ({}): deleting the old one at {} first",
        step.kind,
        len(changed),
        ", ".join(changed[:5]),
        step.dst,
    )
    if changes.files:
        args = ["delete", step.dst] if backup_dir is None else ["move", step.dst, str(backup_dir)]
        result = await session.rc.run(args, files_from=changes.files)
        if not result.ok:
            raise SyncFailed(f"{step.kind} failed: removing what changed type: {result.message}")
    for folder in changes.folders:
        result = await session.rc.run(["rmdirs", remote_join(step.dst, folder)])
        if not result.ok:
            raise SyncFailed(f"{step.kind} failed: {folder} is still a folder: {result.message}")
    return len(changed)


async def hidden_in_the_way(
    session: Session, step: Step, result: RcloneResult, src: list[Entry] | None
) -> str:
    """After a failed sync: a note naming the destination files that keep a source *file* from
    taking its place, because the destination has a folder of that name holding only files
    the filters hide (an excluded ``.DS_Store`` a desktop client left), which neither the
    type-change clean-up nor ``sync`` ever deletes; ``""`` when there are none."""
    if result.ok or not src:
        return ""
    files = {entry.path for entry in src}
    named = {without_partial(error.split(": ", 1)[0]) for error in result.errors}
    notes = []
    for path in sorted(named & files)[:3]:
        try:
            inside = await list_files(session.rc, remote_join(step.dst, path))
        except SyncFailed:
            continue
        if inside:
            shown = ", ".join(f"{path}/{entry.path}" for entry in inside[:3])
            notes.append(
                f"{path} is a file here but a folder at {step.dst} holding {len(inside)} "
                f"file(s) the filters exclude ({shown}): remove them there, or rename {path}"
            )
    return "".join(f"; {note}" for note in notes)
