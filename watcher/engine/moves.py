"""Folder renames pushed as moves on the remote (``rclone moveto``), not as N deletions.

The daemon records a folder renamed inside the sync root as a :class:`~watcher.plan.moves.Move`.
Before the push (mailbox) each move, in order, is checked against the disk and the remote,
then done with ``rclone move remote:<old> remote:<new> --delete-empty-src-dirs`` (what
``moveto`` does for a folder, plus removing the emptied folders): a server-side folder move
where the backend has one (DirMove: local, SFTP, WebDAV, FTP, Drive, Dropbox, OneDrive),
otherwise rclone moves file by file (server-side Move, or Copy + Delete on object stores such
as S3: one copy request and one delete per file, no upload). A moved file is counted as a
rename, never as a deletion, so the delete guard does not see it.

After the moves an incremental push first reconciles each moved folder with a scoped, guarded
``rclone sync`` (files edited during or after the move, remote files the local folder does not
hold), then pushes the other changed paths. A move is refused, and the full guarded push
carries the change instead, when it would lose or confuse data:

- the local source exists again, or the local destination is gone or is no folder;
- a file of the folder would be excluded by the filters at its new place (``mv docs
  archive`` with ``archive/**`` excluded: the folder left the sync, deletions for the guard);
- the remote destination already holds files that are not in the local destination, or
  (bisync, ``keep_remote``) a file the move would overwrite: in bisync another writer's file
  there is no stale copy, and ``rclone move`` would replace it without a trace;
- a name a filter rule cannot carry (a line break, bytes that are not valid UTF-8).

A remote source that does not exist is nothing to move (the push uploads the folder).

The deletions of a batch are judged together: the moved files the local destination no
longer holds (the scoped syncs delete them) plus the listed paths gone locally. More than
``max_delete`` allows of the destination hands the batch to the full push, whose guard
refuses it (each part alone would pass its own, smaller guard).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from watcher.engine.incremental import NeedsFullPush, run_incremental_push, too_many_deletes
from watcher.engine.oneway import list_both, run_one_way
from watcher.engine.session import Session
from watcher.engine.state import RunRecord
from watcher.errors import SyncFailed
from watcher.plan import Step, remote_join
from watcher.plan.filters import PathFilter, glob_escape
from watcher.plan.moves import Move, ScopedFilter, under
from watcher.rclone import Entry
from watcher.rclone.encoding import listable


@dataclass(frozen=True)
class MoveDone:
    """A move that ran (``files`` moved on the remote; 0 when the remote had no source;
    ``missing``: the remote source's files, relative to the folder, the local destination
    lacks; ``left``: those of them not moved but left at the source (bisync: deleted locally
    after the rename, so bisync deletes them and counts them as deletions))."""

    move: Move
    files: int
    missing: tuple[str, ...] = ()
    left: tuple[str, ...] = ()


@dataclass(frozen=True)
class MovesOutcome:
    """The moves done, in order, and why the rest was not done (then a full push follows)."""

    done: tuple[MoveDone, ...] = ()
    fallback: str | None = None

    @property
    def moved(self) -> int:
        """Files moved on the remote in all."""
        return sum(d.files for d in self.done)

    def note(self) -> str:
        """``moved a → b (20 files); …`` for the run record and the log."""
        parts = [
            f"moved {d.move.describe()} ({d.files} files)"
            if d.files
            else f"{d.move.describe()}: nothing to move"
            for d in self.done
        ]
        if self.fallback:
            parts.append(f"not moved: {self.fallback}")
        return "; ".join(parts)


def local_problem(root: Path, move: Move) -> str | None:
    """Why the local disk no longer agrees with ``move`` (``None`` when it does)."""
    if not all(listable(name) and _utf8(name) for name in (move.src, move.dst)):
        return "a name a filter rule cannot carry (a line break, or not valid UTF-8)"
    if os.path.lexists(root / move.src):
        return f"{move.src!r} exists again locally"
    target = root / move.dst
    if target.is_symlink() or not target.is_dir():
        return f"{move.dst!r} is gone or no longer a folder locally"
    return None


def _utf8(name: str) -> bool:
    """True when ``name`` is valid UTF-8 (no surrogate escapes of undecodable bytes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def apply_moves(
    session: Session,
    root: Path,
    remote: str,
    moves: Collection[Move],
    *,
    rules: PathFilter,
    keep_remote: bool = False,
) -> MovesOutcome:
    """Do ``moves`` in order on the remote root ``remote`` (sync root ``root``); stop at the
    first one that does not hold (see the module docstring; ``rules``: the sync's filter;
    ``keep_remote``: a remote file the move would overwrite does not hold either). Raises
    :class:`SyncFailed` when rclone fails to move (the daemon retries; the moves are checked
    again then)."""
    done: list[MoveDone] = []
    for move in moves:
        src, dst = remote_join(remote, move.src), remote_join(remote, move.dst)
        why, src_files = await _check(session, (root, remote), move, rules, keep_remote)
        if why is not None:
            return MovesOutcome(tuple(done), f"{move.describe()}: {why}")
        missing = tuple(e.path for e in src_files if not os.path.lexists(root / move.dst / e.path))
        left = missing if keep_remote else ()
        why = _left_problem(left)
        if why is not None:
            return MovesOutcome(tuple(done), f"{move.describe()}: {why}")
        if len(left) < len(src_files):
            # ``moveto`` of a folder is ``move``, which alone takes --delete-empty-src-dirs
            # (a backend without a folder move leaves the emptied folders behind otherwise)
            keep = [a for rel in left for a in ("--filter", f"- /{glob_escape(rel)}")]
            result = await session.rc.run(["move", src, dst, "--delete-empty-src-dirs", *keep])
            if not result.ok:
                detail = result.message() or "; ".join(result.errors[-2:]) or "see the log"
                raise SyncFailed(f"push: moving {move.describe()} on the remote failed: {detail}")
        done.append(MoveDone(move, len(src_files) - len(left), missing, left))
    return MovesOutcome(tuple(done))


#: bisync: more files than this deleted locally below a moved folder are not left behind by
#: filter rules (one per file on rclone's command line); bisync then decides alone.
LEFT_LIMIT = 1000


def _left_problem(left: tuple[str, ...]) -> str | None:
    """Why the files ``left`` at the source cannot be kept out of the move (``None``: they can)."""
    if len(left) > LEFT_LIMIT:
        return f"{len(left)} of its files were deleted locally after the rename"
    odd = [rel for rel in left if not (listable(rel) and _utf8(rel))]
    if odd:
        return f"a deleted file's name a filter rule cannot carry ({odd[0]!r})"
    return None


async def _check(
    session: Session, roots: tuple[Path, str], move: Move, rules: PathFilter, keep_remote: bool
) -> tuple[str | None, list[Entry]]:
    """Why ``move`` does not hold (``None`` when it does) and the remote source's files."""
    root, remote = roots
    why = local_problem(root, move)
    if why is not None:
        return why, []
    src, dst = remote_join(remote, move.src), remote_join(remote, move.dst)
    # paths are enough here: without modtimes an object store needs no HEAD per object
    src_files, dst_files = await list_both(session.rc, src, dst, ["--no-modtime"])
    if not src_files:
        return None, []
    hidden = [
        e.path
        for e in src_files
        if rules.excluded(f"{move.dst}/{e.path}") and not rules.excluded(f"{move.src}/{e.path}")
    ]
    if hidden:
        # e.g. ``mv docs archive`` with ``archive/**`` excluded: deletions, for the guard
        why = f"{len(hidden)} of its files are excluded there (e.g. {hidden[0]!r})"
        return why, src_files
    return _remote_problem(root, move, src_files, dst_files or [], keep_remote), src_files


def _remote_problem(
    root: Path, move: Move, src_files: list[Entry], dst_files: list[Entry], keep_remote: bool
) -> str | None:
    """Why the remote destination of ``move`` must not receive it (``None`` when it may)."""
    stray = [e.path for e in dst_files if not (root / move.dst / e.path).exists()]
    if stray:
        return (
            f"{move.dst!r} on the remote holds {len(stray)} files that are not in the "
            f"local folder (e.g. {stray[0]!r})"
        )
    names = {e.path for e in src_files}
    clash = sorted(e.path for e in dst_files if e.path in names)
    if keep_remote and clash:
        return (
            f"{move.dst!r} on the remote already holds {len(clash)} files the move would "
            f"overwrite (e.g. {clash[0]!r})"
        )
    return None


async def push_with_moves(
    session: Session,
    step: Step,
    moves: Collection[Move],
    push_paths: Collection[str] | None,
    known_dest_files: int | None,
) -> RunRecord:
    """The push of a batch of events holding folder renames: the moves, then the scoped
    reconciles and the incremental push of ``push_paths`` (``None``: the full push)."""
    started = time.time()
    root = Path(step.src)
    if not root.is_dir():
        return await run_one_way(session, step)  # the guard says what is wrong
    outcome = await apply_moves(session, root, step.dst, moves, rules=step.filter)
    if outcome.fallback:
        logger.info("push: full push instead of incremental ({})", outcome.fallback)
    elif push_paths is not None:
        deletes = _batch_deletes(root, step, outcome, push_paths)
        if too_many_deletes(deletes, known_dest_files, session.cfg.max_delete):
            logger.info("push: full push instead of incremental ({} deletions)", deletes)
            push_paths = None
    if outcome.fallback or push_paths is None:
        records = [await run_one_way(session, step)]
    else:
        records = await _reconcile(session, step, outcome, push_paths, known_dest_files)
    return _combined(records, outcome, started)


def _batch_deletes(
    root: Path, step: Step, outcome: MovesOutcome, push_paths: Collection[str]
) -> int:
    """The deletions the scoped syncs and the incremental push of a batch would make together:
    moved files the local destination lacks (unless excluded) and listed paths gone locally."""
    moved = {
        f"{d.move.dst}/{rel}"
        for d in outcome.done
        for rel in d.missing
        if not step.filter.excluded(f"{d.move.dst}/{rel}")
    }
    listed = {rel for rel in push_paths if not os.path.lexists(root / rel)}
    return len(moved | listed)


async def _reconcile(
    session: Session,
    step: Step,
    outcome: MovesOutcome,
    push_paths: Collection[str],
    known_dest_files: int | None,
) -> list[RunRecord]:
    """Sync each moved folder alone (guarded), then push the other changed paths."""
    records = []
    for folder in dict.fromkeys(d.move.dst for d in outcome.done):
        scoped = ScopedFilter(step.filter.patterns, scope=folder)
        records.append(await run_one_way(session, dataclasses.replace(step, filter=scoped)))
        records[-1].dest_files = None  # the folder's count, not the destination's
    rest = [p for p in push_paths if not any(under(p, d.move.dst) for d in outcome.done)]
    if rest:
        try:
            records.append(
                await run_incremental_push(session, step, rest, known_dest_files=known_dest_files)
            )
        except NeedsFullPush as reason:
            logger.info("push: full push instead of incremental ({})", reason)
            records.append(await run_one_way(session, step))
    return records


def _combined(records: list[RunRecord], outcome: MovesOutcome, started: float) -> RunRecord:
    """One push record: the moves' note first, then what the syncs did."""
    done = list(dict.fromkeys(r.message for r in records if not r.message.startswith("nothing")))
    note = outcome.note()
    message = "; ".join([note, *done]) if done else f"{note}; nothing else to push"
    full = [r.dest_files for r in records if r.dest_files is not None]
    return RunRecord(
        "push",
        all(r.ok for r in records),
        message,
        started,
        time.time() - started,
        transferred=sum(r.transferred for r in records),
        deleted=sum(r.deleted for r in records),
        errors=sum(r.errors for r in records),
        dest_files=full[-1] if full else None,
        moved=outcome.moved,
    )
