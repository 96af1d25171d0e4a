"""bisync runs: the baseline check, the workdir in the state folder, and rclone's aborts."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from loguru import logger

from watcher.engine.oneway import record_from
from watcher.engine.procs import is_live_rclone
from watcher.engine.session import Session
from watcher.engine.state import RunRecord
from watcher.errors import SafetyRefusal, SyncFailed
from watcher.plan import Step
from watcher.rclone.ops import parse_time

RESYNC_FIX = "workspace-sync sync --resync"
FORCE_FIX = "workspace-sync sync --force"


def _same_pair(stem: str, step: Step) -> bool:
    """True when a bisync file-name stem was derived from this step's two paths."""
    local = re.sub(r"[/:]", "_", step.src).strip("_")
    remote = re.sub(r"[/:]", "_", step.dst.split(":", 1)[-1]).strip("_")
    first, sep, second = stem.partition("..")
    return bool(sep) and first.endswith(local) and second.endswith(remote)


def clear_stale_locks(workdir: Path, step: Step) -> list[int]:
    """Remove bisync lock files of this pair whose owner is not a live rclone that started
    before the lock was written; a live lock is never touched. Returns the dead owners' pids."""
    cleared = []
    for lock in sorted(workdir.glob("*.lck")):
        if not _same_pair(lock.name[: -len(".lck")], step):
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


def listing_stem(workdir: Path, step: Step) -> str | None:
    """The file-name stem of bisync's listings for this pair of paths, if they exist.

    rclone derives it from both paths (``/`` and ``:`` become ``_``, the backend name may be
    prepended); rather than re-deriving rclone's exact rule, find the listing pair whose name
    holds both paths in that form.
    """
    for path1 in sorted(workdir.glob("*.path1.lst")):
        stem = path1.name[: -len(".path1.lst")]
        if _same_pair(stem, step) and (workdir / f"{stem}.path2.lst").is_file():
            return stem
    return None


def baseline_present(workdir: Path, step: Step) -> bool:
    """True when bisync's listings of a previous run exist for this pair of paths."""
    return listing_stem(workdir, step) is not None


async def run_bisync(
    session: Session,
    step: Step,
    *,
    dry_run: bool = False,
    force: bool = False,
    resync: bool = False,
) -> RunRecord:
    """One bisync run; without a baseline it refuses (exit 1) and names the ``--resync`` fix."""
    started = time.time()
    workdir = session.paths.bisync_workdir
    if not resync and not baseline_present(workdir, step):
        raise SafetyRefusal(
            "bisync has no baseline yet (first run, or its listings were lost): review both "
            f"sides, then run `{RESYNC_FIX}` once to establish it",
            RESYNC_FIX,
        )
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    clear_stale_locks(workdir, step)
    if resync and not dry_run:
        Path(step.src).mkdir(parents=True, exist_ok=True)
        await session.rc.run(["mkdir", step.dst], per_file=False)
    args = [
        "bisync",
        step.src,
        step.dst,
        *step.flags,
        "--workdir",
        str(workdir),
        *step.filter.rclone_args(),
        *session.link_args(),
    ]
    if dry_run:
        args.append("--dry-run")
    if force:
        args.append("--force")
    result = await session.rc.run(args)
    record = record_from("bisync", result, started, dry_run=dry_run)
    if result.ok:
        return record
    text = " ".join(result.errors)
    if "all files were changed" in text.lower() or "too many deletes" in text.lower():
        raise SafetyRefusal(
            f"bisync aborted for safety: {result.errors[-1]}; check both sides, then run "
            f"`{FORCE_FIX}`",
            FORCE_FIX,
        )
    if "prior lock file found" in text.lower():
        raise SyncFailed(
            "bisync: another bisync of these paths is running (its lock is live); "
            "this run will be retried"
        )
    if "resync" in text.lower() and result.exit_code in (2, 7):
        raise SafetyRefusal(
            f"bisync needs a new baseline: {result.errors[-1]}; check both sides, then run "
            f"`{RESYNC_FIX}`",
            RESYNC_FIX,
        )
    raise SyncFailed(f"bisync failed: {record.message}")


def read_listing(workdir: Path, step: Step, side: int) -> dict[str, tuple[int, float]]:
    """``{path: (size, mtime)}`` from bisync's listing of ``side`` (1 = local, 2 = remote) after
    its last run; lines it cannot parse are skipped."""
    entries: dict[str, tuple[int, float]] = {}
    stem = listing_stem(workdir, step)
    if stem is None:
        return entries
    path = workdir / f"{stem}.path{side}.lst"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return entries
    for line in lines:
        match = _LISTING_LINE.match(line)
        if not match:
            continue
        try:
            name = json.loads(match.group(3))
        except ValueError:
            continue
        entries[name] = (int(match.group(1)), parse_time(match.group(2)))
    return entries


_LISTING_LINE = re.compile(r'^- +(-?\d+) \S+ \S+ (\S+) (".*")$')
