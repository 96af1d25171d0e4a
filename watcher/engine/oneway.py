"""One-way syncs (push, pull) behind the safety guard; pulls keep local edits in a dated backup."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import anyio
from loguru import logger

from watcher.config import Config
from watcher.engine.guard import check_one_way
from watcher.engine.pulled import (
    PullRecord,
    build_record,
    drop_pristine,
    read_record,
    without_modtimes,
    write_record,
)
from watcher.engine.remote_root import create_and_list, dry_push_to_missing
from watcher.engine.session import Session
from watcher.engine.stalled import Apart, Retried, retry_apart, set_apart
from watcher.engine.state import RunRecord
from watcher.engine.typechange import clear_type_changes, hidden_in_the_way
from watcher.errors import SafetyRefusal, SyncFailed
from watcher.plan import Step
from watcher.rclone import Entry, Rclone, RcloneResult, list_files
from watcher.rclone.features import full_sync_flags

#: Mirror backups older than this are pruned.
BACKUP_RETENTION_DAYS = 30
_STAMP = "%Y%m%dT%H%M%S%fZ"


def record_from(
    kind: str, result: RcloneResult, started: float, *, dry_run: bool, extra: str = ""
) -> RunRecord:
    """A :class:`RunRecord` for an rclone result (``extra`` is appended to the summary)."""
    copy, delete = ("would copy", "delete") if dry_run else ("copied", "deleted")
    summary = f"{copy} {len(result.transferred)}, {delete} {len(result.deleted)}"
    message = (result.message() or summary) + extra
    return RunRecord(
        kind=kind,
        ok=result.ok,
        message=message,
        started=started,
        duration=time.time() - started,
        transferred=len(result.transferred),
        deleted=len(result.deleted),
        errors=len(result.errors),
        dry_run=dry_run,
    )


def force_hint(step: Step, cfg: Config) -> str:
    """The command that overrides the guard for this step once (with ``--config`` when the
    config was named)."""
    return cfg.command(f"workspace-sync sync --force --direction {step.kind}")


async def list_both(
    rc: Rclone, src: str, dst: str, filters: list[str], *, hash_type: str | None = None
) -> tuple[list[Entry] | None, list[Entry] | None]:
    """List both sides at once (two rclone processes side by side) for the guard (and the
    resync, which asks for ``hash_type``)."""
    listings: dict[str, list[Entry] | None] = {}
    failures: list[SyncFailed] = []

    async def one(side: str, root: str) -> None:
        try:
            listings[side] = await list_files(rc, root, filters, hash_type=hash_type)
        except SyncFailed as exc:  # re-raised below as itself, not inside an ExceptionGroup
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, "src", src)
        tg.start_soon(one, "dst", dst)
    if failures:
        raise failures[0]
    return listings["src"], listings["dst"]


async def guard_listings(
    session: Session, step: Step, filters: list[str], *, probe: bool
) -> tuple[list[Entry] | None, list[Entry] | None, float | None]:
    """:func:`list_both` and, with ``probe``, the source's modtime precision, side by side."""
    found: list[float | None] = [None]
    failure: SyncFailed | None = None

    async def precision() -> None:
        found[0] = await session.modtime_precision(step.src)

    async with anyio.create_task_group() as tg:
        if probe:
            tg.start_soon(precision)
        try:
            src, dst = await list_both(session.rc, step.src, step.dst, filters)
        except SyncFailed as exc:  # raised below as itself, not inside an ExceptionGroup
            failure, src, dst = exc, None, None
            tg.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return src, dst, found[0]


#: What the guard listed: the source's and destination's files (``None`` for a missing
#: folder) and, for a mirror pull, the source's modtime precision.
Listed = tuple[list[Entry] | None, list[Entry] | None, float | None]


async def run_one_way(
    session: Session, step: Step, *, dry_run: bool = False, force: bool = False
) -> RunRecord:
    """Run ``rclone sync step.src step.dst`` after the empty-source and delete guards; raises
    :class:`SafetyRefusal` (exit 1) when the guard refuses and ``force`` is not set. A push to
    a remote root that does not exist yet creates it first (:mod:`watcher.engine.remote_root`).
    Paths stalled for this step are left out of the sync and retried apart
    (:mod:`watcher.engine.stalled`; not in dry runs): the step fails while one still fails."""
    started = time.time()
    filters = step.filter.rclone_args() + session.link_args()
    listed: Listed = (None, None, None)
    if not force:
        guarded = await _guard(session, step, filters, dry_run=dry_run)
        if guarded is None:
            message = f"nothing to {step.kind}: {step.src} does not exist"
            return RunRecord(
                step.kind, True, message, started, time.time() - started, dry_run=dry_run
            )
        listed = guarded
        if dry_run and step.kind == "push" and listed[1] is None:
            return dry_push_to_missing(step, listed[0] or [], started)
    src, dst, _ = listed
    compare = full_sync_flags(await session.features())
    backup: list[str] = []
    if step.kind == "pull" and not dry_run:
        stamp = datetime.now(timezone.utc).strftime(_STAMP)
        backup = ["--backup-dir", str(session.paths.mirror_backups / stamp)]
    apart = Apart() if dry_run else set_apart(session.paths, step, src)
    args = ["sync", step.src, step.dst, *apart.filters(), *filters, *step.flags, *compare]
    args += ["--dry-run"] if dry_run else backup
    backup_dir = Path(backup[1]) if backup else None
    changed = 0 if dry_run else await clear_type_changes(session, step, src, dst, backup_dir)
    result = await session.rc.run(args)
    retried = await retry_apart(
        session.rc, step, apart, result, [*session.link_args(), *compare, *backup]
    )
    ran = _Ran(result, retried, backup_dir, compare, changed)
    record = await _outcome(session, step, listed, ran, started, dry_run=dry_run)
    record.dest_files = None if force else len(dst or [])
    if not record.ok and not record.stalled_only:
        raise SyncFailed(f"{step.kind} failed: {record.message}")
    return record  # failed only on stalled paths synced apart: the record says so


@dataclass(frozen=True)
class _Ran:
    """What a one-way run did: the main sync, the retry of the paths set apart, the pull's
    backup folder, the compare flags and how many paths changed type first."""

    result: RcloneResult
    retried: Retried
    backup_dir: Path | None
    compare: tuple[str, ...]
    changed: int


async def _outcome(
    session: Session, step: Step, listed: Listed, ran: _Ran, started: float, *, dry_run: bool
) -> RunRecord:
    """The record of a one-way run: a pull settles its backups and record first (leaving
    out the paths set apart that still fail); notes on held-back deletes, type changes,
    hidden files in the way and the paths retried apart."""
    src, _, precision = listed
    result, retried, extra = ran.result, ran.retried, ""
    if step.kind == "pull" and not dry_run:
        settled = dataclasses.replace(result, sizes={**result.sizes, **retried.sizes})
        extra = await settle_pull(
            session,
            step,
            ran.backup_dir,
            settled,
            (src, precision),
            carry=without_modtimes(ran.compare, precision),
            leave_out=retried.failing,
        )
    extra += _held_back_note(result) + (
        f"; {ran.changed} file ↔ folder changes" if ran.changed else ""
    )
    extra += await hidden_in_the_way(session, step, result, src)
    if retried.result is not None:
        extra += await hidden_in_the_way(session, step, retried.result, src)
    extra += retried.note()
    return retried.fold(record_from(step.kind, result, started, dry_run=dry_run, extra=extra))


async def _guard(
    session: Session, step: Step, filters: list[str], *, dry_run: bool
) -> Listed | None:
    """List both sides (a push first creates a missing remote root and lists it again) and
    apply :func:`check_one_way`: raise :class:`SafetyRefusal` when it refuses; ``None`` when
    there is nothing to do (no source, an empty destination); else the listings."""
    cfg = session.cfg
    mirror_pull = step.kind == "pull" and cfg.mode == "mirror" and not dry_run
    src, dst, precision = await guard_listings(session, step, filters, probe=mirror_pull)
    if step.kind == "push" and dst is None and src is not None and not dry_run:
        dst = await create_and_list(session, step.dst, filters)
    verdict = check_one_way(step.src, step.dst, src, dst, cfg.max_delete)
    if verdict.refuse:
        fix = force_hint(step, cfg)
        raise SafetyRefusal(
            f"{step.kind} refused: {verdict.refuse}; nothing was changed. "
            f"If that is really intended, run `{fix}`",
            fix,
        )
    if verdict.skip:
        return None
    return src, dst, precision


def _held_back_note(result: RcloneResult) -> str:
    """A note naming why rclone held back deletes (the unreadable files, or the errors that
    made it do so), or ``""``."""
    if not any("not deleting" in error for error in result.errors):
        return ""
    unreadable = [e.split(": ", 1)[0] for e in result.errors if "permission denied" in e]
    if unreadable:
        return (
            f"; {len(unreadable)} unreadable files ({', '.join(unreadable[:5])}): deletes are "
            "held back until they are readable or excluded, or stalled (3 runs): then the "
            "runs sync them apart"
        )
    causes = [e for e in result.errors if "not deleting" not in e and "Attempt " not in e]
    shown = "; ".join(dict.fromkeys(causes[:3])) or "see the log"
    return f"; deletes are held back because of {len(set(causes))} error(s): {shown}"


async def settle_pull(
    session: Session,
    step: Step,
    backup_dir: Path | None,
    result: RcloneResult,
    remote: tuple[list[Entry] | None, float | None] = (None, None),
    *,
    carry: bool = False,
    leave_out: Collection[str] = (),
) -> str:
    """After a pull (failed or not): drop from the backup the files a pull wrote untouched (in
    mirror mode, by the record of :mod:`watcher.engine.pulled`); after a successful one,
    record what it wrote from ``remote`` (the remote's files before the run and its modtime
    precision; listed anew when missing), with ``carry`` (a pull that compared without
    modtimes) keeping the previous entries of the files it did not transfer, and without the
    ``leave_out`` paths (set apart and still failing: the pull did not write them); prune
    old backups. Returns a note about local edits kept, or ``""``."""
    cfg, paths = session.cfg, session.paths
    mirror = cfg.mode == "mirror"
    note = ""
    record = read_record(paths.mirror_manifest) if mirror else PullRecord()
    if backup_dir is not None and backup_dir.exists():
        kept = drop_pristine(backup_dir, record)
        if kept:
            note = f"; {kept} locally changed files moved aside to {backup_dir}"
            logger.warning(
                "pull overwrote {} locally changed files; copies kept in {}", kept, backup_dir
            )
    if mirror and result.ok:
        listing, precision = remote
        if listing is None:
            listing, precision = await _listing_after(session, step)
        if listing is not None:
            left = set(leave_out)
            listing = [entry for entry in listing if entry.path not in left]
            carried = record if carry else None
            built = build_record(listing, result.sizes, precision, carried)
            write_record(paths.mirror_manifest, built)
    prune_backups(paths.mirror_backups)
    return note


async def _listing_after(session: Session, step: Step) -> tuple[list[Entry] | None, float | None]:
    """The remote's files and modtime precision after a pull that ran without the guard's
    listing (``--force``); no files when they cannot be listed (the previous record stays)."""
    filters = step.filter.rclone_args() + session.link_args()
    try:
        listing = await list_files(session.rc, step.src, filters)
    except SyncFailed as exc:
        logger.warning("pull: could not list {} to record what it wrote: {}", step.src, exc)
        return None, None
    return listing, await session.modtime_precision(step.src)


def prune_backups(folder: Path, days: int = BACKUP_RETENTION_DAYS) -> None:
    """Remove dated backup folders older than ``days``."""
    if not folder.is_dir():
        return
    cutoff = datetime.now(timezone.utc).timestamp() - days * 86400
    for child in folder.iterdir():
        try:
            stamp = datetime.strptime(child.name, _STAMP).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        if stamp.timestamp() < cutoff:
            shutil.rmtree(child, ignore_errors=True)
