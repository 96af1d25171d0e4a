"""One-way syncs (push, pull) behind the safety guard; pulls keep local edits in a dated backup."""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import anyio
from loguru import logger

from watcher.engine.guard import check_one_way
from watcher.engine.session import Session
from watcher.engine.state import RunRecord, read_json, write_json
from watcher.errors import SafetyRefusal, SyncFailed
from watcher.plan import Step
from watcher.rclone import Entry, Rclone, RcloneResult, list_files

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


def force_hint(step: Step) -> str:
    """The command that overrides the guard for this step once."""
    return f"workspace-sync sync --force --direction {step.kind}"


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


async def run_one_way(
    session: Session, step: Step, *, dry_run: bool = False, force: bool = False
) -> RunRecord:
    """Run ``rclone sync step.src step.dst`` after the empty-source and delete guards.

    Raises :class:`SafetyRefusal` (exit 1) when the guard refuses and ``force`` is not set.
    """
    started = time.time()
    rc, cfg = session.rc, session.cfg
    filters = step.filter.rclone_args() + session.link_args()
    dest_files = None
    if not force:
        src, dst = await list_both(rc, step.src, step.dst, filters)
        verdict = check_one_way(step.src, step.dst, src, dst, cfg.max_delete)
        dest_files = len(dst or [])
        if verdict.refuse:
            fix = force_hint(step)
            raise SafetyRefusal(
                f"{step.kind} refused: {verdict.refuse}; nothing was changed. "
                f"If that is really intended, run `{fix}`",
                fix,
            )
        if verdict.skip:
            return RunRecord(
                step.kind,
                True,
                f"nothing to {step.kind}: {step.src} does not exist",
                started,
                time.time() - started,
                dry_run=dry_run,
            )
    args = ["sync", step.src, step.dst, *filters, *step.flags]
    backup_dir = None
    if dry_run:
        args.append("--dry-run")
    elif step.kind == "pull":
        backup_dir = session.paths.mirror_backups / datetime.now(timezone.utc).strftime(_STAMP)
        args += ["--backup-dir", str(backup_dir)]
    result = await rc.run(args)
    extra = ""
    if step.kind == "pull" and not dry_run:
        extra = settle_pull(session, step, backup_dir)
    if any("not deleting" in error for error in result.errors):
        unreadable = [e.split(": ", 1)[0] for e in result.errors if "permission denied" in e]
        extra += (
            f"; {len(unreadable)} unreadable files ({', '.join(unreadable[:5])}): deletes are "
            "held back until they are readable or excluded"
        )
    record = record_from(step.kind, result, started, dry_run=dry_run, extra=extra)
    record.dest_files = dest_files
    if not record.ok:
        raise SyncFailed(f"{step.kind} failed: {record.message}")
    return record


def settle_pull(session: Session, step: Step, backup_dir: Path | None) -> str:
    """After a pull: drop from the backup the files the previous pull wrote untouched (in
    mirror mode, where a manifest of them exists), record the new manifest, prune old backups.
    Returns a note about local edits kept, or ``""``."""
    cfg, paths = session.cfg, session.paths
    note = ""
    if backup_dir is not None and backup_dir.exists():
        manifest = read_json(paths.mirror_manifest, None) if cfg.mode == "mirror" else None
        kept = _drop_pristine(backup_dir, manifest)
        if kept:
            note = f"; {kept} locally changed files moved aside to {backup_dir}"
            logger.warning(
                "pull overwrote {} locally changed files; copies kept in {}", kept, backup_dir
            )
    if cfg.mode == "mirror":
        write_json(paths.mirror_manifest, local_manifest(Path(step.dst), step))
    prune_backups(paths.mirror_backups)
    return note


def local_manifest(root: Path, step: Step) -> dict[str, list[float]]:
    """``{relative path: [size, mtime]}`` of the files a pull owns under ``root``."""
    manifest: dict[str, list[float]] = {}
    if not root.is_dir():
        return manifest
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() or not path.is_file() or step.filter.excluded(rel):
            continue
        st = path.stat()
        manifest[rel] = [st.st_size, st.st_mtime_ns / 1e9]
    return manifest


def _drop_pristine(backup_dir: Path, manifest: dict[str, list[float]] | None) -> int:
    """Delete backed-up files identical to what the last pull wrote; return how many remain."""
    kept = 0
    for path in sorted(backup_dir.rglob("*"), reverse=True):
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
            continue
        rel = path.relative_to(backup_dir).as_posix()
        entry = manifest.get(rel) if manifest else None
        st = path.stat()
        if entry and entry[0] == st.st_size and abs(entry[1] - st.st_mtime_ns / 1e9) < 1e-3:
            path.unlink()
        else:
            kept += 1
    if backup_dir.exists() and not any(backup_dir.iterdir()):
        backup_dir.rmdir()
    return kept


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
