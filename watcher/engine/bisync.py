"""bisync runs: the baseline check, the workdir in the state folder, resyncs that keep the
losing versions, and rclone's aborts."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import tempfile
import time
from pathlib import Path

from loguru import logger

from watcher.config import Config
from watcher.engine.bisync_kept import guard_args, keep_overwritten, replace_guards
from watcher.engine.bisync_lease import Lease
from watcher.engine.bisync_listing import parse_listing
from watcher.engine.bisync_moves import bisync_moves
from watcher.engine.bisync_recover import ROOT_GONE, restore_listings, type_clash_abort
from watcher.engine.bisync_types import TypeOutcome, settle_type_changes
from watcher.engine.empty_baseline import (
    describe_paths,
    listings_empty,
    merge_new_files,
    plan_sides,
)
from watcher.engine.guard import FORCE_FIX
from watcher.engine.moves import MovesOutcome
from watcher.engine.oneway import record_from
from watcher.engine.procs import is_live_rclone
from watcher.engine.remote_root import create_remote_root
from watcher.engine.resync import ResyncPrep, prepare_resync
from watcher.engine.session import Session
from watcher.engine.state import RunRecord
from watcher.errors import SafetyRefusal, SyncFailed
from watcher.plan import Step, local_remote_dir, plan_cycle
from watcher.plan.bisync_names import ROOTS_DIR, BisyncNames, bisync_names, legacy_stem_matches
from watcher.plan.moves import Move
from watcher.plan.resync import resync_effect
from watcher.rclone import RcloneResult
from watcher.rclone.features import bisync_compare_flags

RESYNC_FIX = "workspace-sync sync --resync"
#: rclone's words (``--resilient``) for an abort its next run recovers from by itself: an
#: error while building its listings, before it changed anything (finding 16-11); it says
#: the same of an empty side, a safety abort that stays a refusal (:data:`EMPTY_SIDE`).
RETRYABLE = "error is retryable without --resync"
EMPTY_SIDE = ("empty current path1 listing", "empty current path2 listing")


def names_for(step: Step, cfg: Config) -> BisyncNames:
    """The short arguments bisync gets for this step (see :mod:`watcher.plan.bisync_names`)."""
    return bisync_names(step.src, step.dst, remote_is_local=local_remote_dir(cfg) is not None)


def _same_pair(stem: str, names: BisyncNames) -> bool:
    """True when a bisync file-name stem was derived from these short arguments."""
    first, sep, _ = stem.partition("..")
    return bool(sep) and first.endswith(names.path1)


def prepare_roots(workdir: Path, names: BisyncNames) -> Path:
    """Create the folder of links bisync runs in (links pointing elsewhere are replaced)
    and return it."""
    roots = workdir / ROOTS_DIR
    roots.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, target in names.links:
        link = roots / name
        if link.is_symlink() and str(link.readlink()) == target:
            continue
        tmp = roots / f".{name}.new"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        tmp.replace(link)
    return roots


def carry_over(workdir: Path, step: Step, names: BisyncNames) -> int:
    """Rename bisync state named after the real paths (earlier versions) to the short
    names, once, when none of the short names exists yet. Returns how many files moved."""
    if not workdir.is_dir() or listing_stem(workdir, names) is not None:
        return 0
    moved = 0
    for path in sorted(workdir.glob("*.path1.lst*")) + sorted(workdir.glob("*.path2.lst*")):
        stem, _, rest = path.name.rpartition(".path")
        if legacy_stem_matches(stem, step.src, step.dst):
            path.replace(workdir / f"{names.stem}.path{rest}")
            moved += 1
    if moved:
        logger.info("bisync state carried over to short names ({} files)", moved)
    return moved


def clear_stale_locks(workdir: Path, step: Step, cfg: Config) -> list[int]:
    """Remove bisync lock files of this pair whose owner is not a live rclone that started
    before the lock was written; a live lock is never touched. Returns the dead owners' pids."""
    cleared = []
    names = names_for(step, cfg)
    for lock in sorted(workdir.glob("*.lck")):
        if not _same_pair(lock.name[: -len(".lck")], names):
            continue
        try:
            data = json.loads(lock.read_text(encoding="utf-8"))
            pid = int(data.get("PID", 0))
        except (OSError, ValueError, TypeError, AttributeError):
            continue  # unreadable: leave it to rclone, which reports it
        written = lock.stat().st_mtime
        if not is_live_rclone(pid, not_after=written):
            lock.unlink(missing_ok=True)
            cleared.append(pid)
            logger.warning("removed a stale bisync lock of pid {} (no such rclone process)", pid)
    return cleared


def listing_stem(workdir: Path, names: BisyncNames) -> str | None:
    """The file-name stem of bisync's listings for these short arguments, if they exist
    (found by the Path1 link name, which is unique to the pair, rather than by re-deriving
    rclone's exact rule)."""
    for path1 in sorted(workdir.glob("*.path1.lst")):
        stem = path1.name[: -len(".path1.lst")]
        if _same_pair(stem, names) and (workdir / f"{stem}.path2.lst").is_file():
            return stem
    return None


def baseline_present(workdir: Path, step: Step, cfg: Config) -> bool:
    """True when bisync's listings of a previous run exist for this pair of paths (under
    the short names, or under the real paths of an earlier version, carried over at the
    next run)."""
    names = names_for(step, cfg)
    if listing_stem(workdir, names) is not None:
        return True
    return any(
        legacy_stem_matches(p.name[: -len(".path1.lst")], step.src, step.dst)
        for p in workdir.glob("*.path1.lst")
    )


def baseline_empty(workdir: Path, step: Step, cfg: Config) -> bool:
    """True when bisync's prior listings of this pair exist (under the short names) and both
    hold zero entries: a baseline of two empty trees, which rclone refuses to run from."""
    stem = listing_stem(workdir, names_for(step, cfg))
    return stem is not None and listings_empty(workdir, stem)


def resync_advice(cfg: Config) -> str:
    """The resync command (with ``--config``) and what it will do to which side."""
    command = cfg.command(RESYNC_FIX)
    return (
        f"review both sides (`{command} --dry-run` shows the plan), then run `{command}` "
        f"once: {resync_effect(cfg.conflict_resolve)}"
    )


async def _bisync_args(
    session: Session, step: Step, workdir: Path, *, dry_run: bool, force: bool
) -> list[str]:
    names = names_for(step, session.cfg)
    resync = "--resync" in step.flags
    args = [
        "bisync",
        names.path1,
        names.path2,
        *step.flags,
        *bisync_compare_flags(await session.features(), resync=resync),
        "--workdir",
        str(workdir),
        *step.filter.rclone_args(),
        *session.link_args(),
    ]
    return args + (["--dry-run"] if dry_run else []) + (["--force"] if force else [])


async def _dry_resync(session: Session, step: Step, prep: ResyncPrep, started: float) -> RunRecord:
    """A resync dry run: nothing is created, not even bisync's state (a throw-away workdir).
    With a side that does not exist yet rclone cannot run at all; say what would happen."""
    if prep.missing:
        files = prep.remote_files if step.src in prep.missing else prep.local_files
        message = (
            f"would create {' and '.join(prep.missing)} and copy {files} files there, "
            "delete 0 (dry run; nothing changed)"
        )
        return RunRecord("bisync", True, message, started, time.time() - started, dry_run=True)
    with tempfile.TemporaryDirectory(prefix="resync-dry-", dir=session.paths.root) as tmp:
        args = await _bisync_args(session, step, Path(tmp), dry_run=True, force=False)
        roots = prepare_roots(Path(tmp), names_for(step, session.cfg))
        result = await session.rc.run(args, cwd=roots)
    record = record_from("bisync", result, started, dry_run=True, extra=prep.note(dry_run=True))
    if result.ok:
        return record
    raise SyncFailed(f"bisync failed: {record.message}")


async def run_bisync(
    session: Session,
    step: Step,
    *,
    dry_run: bool = False,
    force: bool = False,
    resync: bool = False,
    moves: tuple[Move, ...] = (),
) -> RunRecord:
    """One bisync run; without a baseline it refuses (exit 1) and names the ``--resync`` fix.
    A resync first keeps every version it would overwrite (:func:`prepare_resync`); folder
    ``moves`` are done on the remote first (:mod:`watcher.engine.bisync_moves`). A run that
    may change something holds the remote's lease (:mod:`watcher.engine.bisync_lease`):
    another machine's bisync of the same remote root never overlaps it."""
    lease = contextlib.nullcontext() if dry_run else Lease(session, step)
    async with lease:
        return await _run_bisync(
            session, step, dry_run=dry_run, force=force, resync=resync, moves=moves
        )


async def _run_bisync(
    session: Session,
    step: Step,
    *,
    dry_run: bool = False,
    force: bool = False,
    resync: bool = False,
    moves: tuple[Move, ...] = (),
) -> RunRecord:
    """:func:`run_bisync` once the lease is held (or in a dry run)."""
    started = time.time()
    workdir = session.paths.bisync_workdir
    if not resync and not baseline_present(workdir, step, session.cfg):
        raise SafetyRefusal(
            "bisync has no baseline yet (first run, or its listings were lost): "
            + resync_advice(session.cfg),
            session.cfg.command(RESYNC_FIX),
        )
    note = ""
    if resync:
        prep = await prepare_resync(session, step, dry_run=dry_run)
        if dry_run:
            return await _dry_resync(session, step, prep, started)
        note = prep.note(dry_run=False)
        Path(step.src).mkdir(parents=True, exist_ok=True)
        await create_remote_root(session, step.dst)
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    names = names_for(step, session.cfg)
    carry_over(workdir, step, names)
    roots = prepare_roots(workdir, names)
    clear_stale_locks(workdir, step, session.cfg)
    if not resync and (after := await _after_empty_baseline(session, step, dry_run, started)):
        return after
    result, types, moved = await _settled_run(session, step, roots, dry_run, force, moves)
    gone = not session.cfg.sync_root.is_dir()
    if not (resync or dry_run) and type_clash_abort(result, root_gone=gone):
        stem = _err_stem(workdir, names)
        if stem is not None and restore_listings(workdir, stem):
            if gone:  # moved away or unmounted during the run: no rerun into nothing
                raise SyncFailed(f"bisync: {ROOT_GONE.format(root=session.cfg.sync_root)}")
            result, again, moved = await _settled_run(session, step, roots, dry_run, force, moves)
            types = TypeOutcome(types.fixes + again.fixes)
    record = record_from("bisync", result, started, dry_run=dry_run, extra=note)
    if moved.done or moved.fallback:
        record.message, record.moved = f"{moved.note()}; {record.message}", moved.moved
    if types.fixes:
        record.message = f"{types.note()}; {record.message}"
    if result.ok:
        return record
    raise _failure(session.cfg, result, record, listing_stem(workdir, names) is not None)


async def _settled_run(
    session: Session,
    step: Step,
    roots: Path,
    dry_run: bool,
    force: bool,
    moves: tuple[Move, ...],
) -> tuple[RcloneResult, TypeOutcome, MovesOutcome]:
    """Settle file ↔ folder changes, do the folder ``moves`` on the remote, run rclone bisync."""
    workdir = session.paths.bisync_workdir
    prior = functools.partial(prior_listings, workdir, step, session.cfg)
    types = await settle_type_changes(session, step, prior, dry_run=dry_run)
    listings = prior() if moves else ({}, {})  # read for a run with moves
    budget, moved = await bisync_moves(session, step, moves, listings)
    args = await _bisync_args(session, step, workdir, dry_run=dry_run, force=force) + budget
    if dry_run or "--resync" in step.flags:
        return await session.rc.run(args, cwd=roots), types, moved
    names = names_for(step, session.cfg)
    guards = replace_guards(
        session.paths.root,
        (workdir, listing_stem(workdir, names)),
        Path(step.src),
        (local_remote_dir(session.cfg), names.path2),
    )
    result = await session.rc.run([*args, *guard_args(guards)], cwd=roots)
    for guard in guards:
        keep_overwritten(guard.backups, guard.root, guard.reader(parse_listing))
    return result, types, moved


def _err_stem(workdir: Path, names: BisyncNames) -> str | None:
    """The stem of the ``*.lst-err`` listings rclone left for these short arguments."""
    for path1 in sorted(workdir.glob("*.path1.lst-err")):
        stem = path1.name[: -len(".path1.lst-err")]
        if _same_pair(stem, names):
            return stem
    return None


async def _after_empty_baseline(
    session: Session, step: Step, dry_run: bool, started: float
) -> RunRecord | None:
    """A run after a baseline of two empty trees, which rclone refuses ("Empty prior Path1
    listing"); ``None`` when the baseline holds files (see :mod:`watcher.engine.empty_baseline`):
    nothing to do while both sides are empty, a resync when every file is new on one side
    only, a refusal naming the paths that exist on both sides."""
    workdir, cfg = session.paths.bisync_workdir, session.cfg
    if not baseline_empty(workdir, step, cfg):
        return None
    plan = await plan_sides(session, step)
    if plan.action == "nothing":
        message = "nothing to sync: both sides are still empty, as at the last baseline"
        return RunRecord("bisync", True, message, started, time.time() - started, dry_run=dry_run)
    if plan.action == "blocked":
        raise _made_on_both(cfg, plan.common)
    logger.info(
        "bisync: the last baseline holds no file on either side, which rclone cannot run from; "
        "{} it with a resync ({} local and {} remote files, all new since: nothing is "
        "overwritten or deleted)",
        "would re-establish" if dry_run else "re-establishing",
        plan.local_files,
        plan.remote_files,
    )
    differ = () if dry_run else await merge_new_files(session, step)
    if differ:
        raise _made_on_both(cfg, differ)
    features = await session.features()
    modtime = features is None or features.modtime
    flags = plan_cycle(cfg, resync=True, remote_modtime=modtime)[0].flags
    record = await _run_bisync(
        session, dataclasses.replace(step, flags=flags), dry_run=dry_run, resync=True
    )
    record.message = f"new baseline after an empty one: {record.message}"
    return record


def _made_on_both(cfg: Config, paths: tuple[str, ...]) -> SafetyRefusal:
    """The refusal after an empty baseline when ``paths`` were made on both sides."""
    return SafetyRefusal(
        f"bisync cannot continue from its empty baseline: {describe_paths(paths)} "
        f"{'was' if len(paths) == 1 else 'were'} created on both sides since, so the tool "
        f"does not pick a version; {resync_advice(cfg)}",
        cfg.command(RESYNC_FIX),
    )


def _failure(
    cfg: Config, result: RcloneResult, record: RunRecord, listings_intact: bool = True
) -> SyncFailed:
    """The error for a failed bisync: a refusal naming its fix, or a plain failure (also an
    abort rclone calls retryable while its prior listings, ``listings_intact``, are there)."""
    text = " ".join(result.errors).lower()
    if "all files were changed" in text or "too many deletes" in text:
        return SafetyRefusal(
            f"bisync aborted for safety: {result.errors[-1]}; check both sides, then run "
            f"`{cfg.command(FORCE_FIX)}`",
            cfg.command(FORCE_FIX),
        )
    if "prior lock file found" in text:
        return SyncFailed(
            "bisync: another bisync of these paths is running (its lock is live); "
            "this run will be retried"
        )
    retryable = RETRYABLE in text and not any(word in text for word in EMPTY_SIDE)
    if retryable and listings_intact:  # a later run goes on from them
        return SyncFailed(
            f"bisync failed: rclone aborted while listing ({record.message}); its last good "
            "listings are kept, so this run will be retried"
        )
    if "resync" in text and result.exit_code in (2, 7):
        return SafetyRefusal(
            f"bisync needs a new baseline: {result.errors[-1]}; {resync_advice(cfg)}",
            cfg.command(RESYNC_FIX),
        )
    return SyncFailed(f"bisync failed: {record.message}")


def prior_listings(
    workdir: Path, step: Step, cfg: Config
) -> tuple[dict[str, tuple[int, float]], dict[str, tuple[int, float]]]:
    """:func:`read_listing` of both sides (local, remote)."""
    return read_listing(workdir, step, cfg, 1), read_listing(workdir, step, cfg, 2)


def read_listing(workdir: Path, step: Step, cfg: Config, side: int) -> dict[str, tuple[int, float]]:
    """``{path: (size, mtime)}`` from bisync's listing of ``side`` (1 = local, 2 = remote) after
    its last run; lines it cannot parse are skipped."""
    entries: dict[str, tuple[int, float]] = {}
    stem = listing_stem(workdir, names_for(step, cfg))
    if stem is None:
        return entries
    return parse_listing(workdir / f"{stem}.path{side}.lst")
