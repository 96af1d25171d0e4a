"""Before a bisync run: settle the paths that are a file on one side and a folder on the
other, so that bisync does not abort on them (decisions: :mod:`watcher.plan.bisync_types`).
Both sides are changed through rclone (``deletefile``, ``delete``, ``rmdirs``, ``moveto``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger

from watcher.engine.oneway import list_both
from watcher.engine.session import Session
from watcher.errors import SyncFailed
from watcher.plan import Step, remote_join
from watcher.plan.bisync_types import Listing, Sides, TypeFix, plan_type_fixes, type_conflicts
from watcher.rclone import Entry, list_files
from watcher.rclone.encoding import listable, reachable

#: mtimes of the same listing read twice by rclone agree to the nanosecond; floats to ~0.2 µs.
LOCAL_TOLERANCE = 1e-6
#: Summaries name at most this many settled paths.
NAMED = 3


@dataclass(frozen=True)
class TypeOutcome:
    """The file ↔ folder changes settled before the run (or, in a dry run, to be settled)."""

    fixes: tuple[TypeFix, ...] = ()
    dry_run: bool = False

    def note(self) -> str:
        """The summary's prefix, e.g. ``file ↔ folder: a.txt: a folder on the local side; the
        remote file (unchanged since the last run) removed``; ``""`` when nothing changed
        type."""
        if not self.fixes:
            return ""
        named = "; ".join(fix.describe(dry_run=self.dry_run) for fix in self.fixes[:NAMED])
        more = f" and {len(self.fixes) - NAMED} more" if len(self.fixes) > NAMED else ""
        return f"file ↔ folder: {named}{more}"


def _versions(entries: list[Entry] | None) -> dict[str, tuple[int, float]]:
    return {e.path: (e.size, e.mtime) for e in entries or []}


async def _remote_tolerance(session: Session) -> float | None:
    """How far apart two mtimes of one remote file may be (its backend's precision); ``None``
    when the backend keeps no modtimes (then no remote entry counts as unchanged)."""
    features = await session.features()
    if features is None:
        return LOCAL_TOLERANCE
    if not features.modtime:
        return None
    return max(features.precision_ns / 1e9, LOCAL_TOLERANCE)


def _can_apply(fix: TypeFix) -> bool:
    """False for names rclone cannot reach or list verbatim (bisync then fails as before)."""
    return all(reachable(p) and listable(p) for p in (*fix.files, fix.copy or fix.path))


async def _refuse_hidden(session: Session, step: Step, fixes: tuple[TypeFix, ...]) -> None:
    """Raise :class:`SyncFailed` (nothing changed yet) when a folder that must give way also
    holds files the filters hide (an excluded ``.DS_Store``): removing the listed files would
    not free the name, and bisync would then abort as before."""
    for fix in fixes:
        if fix.action != "remove-folder":
            continue
        root = step.src if fix.side == "local" else step.dst
        found = await list_files(session.rc, remote_join(root, fix.path), session.link_args())
        hidden = sorted({f"{fix.path}/{e.path}" for e in found or []} - set(fix.files))
        if hidden:
            raise SyncFailed(
                f"bisync not run: {fix.path} is a file on one side but a folder on the "
                f"{fix.side} side that also holds {len(hidden)} file(s) the filters exclude "
                f"({', '.join(hidden[:NAMED])}): remove them there, or rename {fix.path}"
            )


async def _apply(session: Session, step: Step, fix: TypeFix) -> None:
    """Carry out one fix on its side. Raises :class:`SyncFailed` when rclone fails."""
    root = step.src if fix.side == "local" else step.dst
    rc = session.rc
    if fix.action == "remove-file":
        result = await rc.run(["deletefile", remote_join(root, fix.path)])
    elif fix.action == "remove-folder":
        result = await rc.run(["delete", root], files_from=fix.files)
        if result.ok:
            result = await rc.run(["rmdirs", remote_join(root, fix.path)])
    else:
        target = remote_join(root, fix.copy)
        args = ["moveto", "--ignore-existing", remote_join(root, fix.path), target]
        result = await rc.run(args)
        if result.ok and not result.transferred:
            raise SyncFailed(
                f"bisync not run: {fix.copy} appeared on the {fix.side} side while {fix.path} "
                "was being kept there; the next run settles it"
            )
    if not result.ok:
        raise SyncFailed(
            f"bisync not run: settling the file ↔ folder change at {fix.path} failed: "
            f"{result.message()}"
        )


async def settle_type_changes(
    session: Session,
    step: Step,
    bases: Callable[[], tuple[Listing, Listing]],
    *,
    dry_run: bool = False,
) -> TypeOutcome:
    """List both sides (with bisync's filters) and settle every path that is a file on one
    side and a folder on the other, judged against ``bases()`` (bisync's prior listings, local
    and remote); in a dry run only log what would be done. The first listing skips the
    modification times (no per-object request on S3, no date parsing); only when a path
    changed type are both sides listed again with them and the prior listings read. Raises
    :class:`SyncFailed` when a listing or a change fails (the run then does not start)."""
    filters = [*step.filter.rclone_args(), *session.link_args()]
    local, remote = await list_both(session.rc, step.src, step.dst, [*filters, "--no-modtime"])
    if not local or not remote:
        return TypeOutcome(dry_run=dry_run)
    if not type_conflicts((e.path for e in local), (e.path for e in remote)):
        return TypeOutcome(dry_run=dry_run)
    local, remote = await list_both(session.rc, step.src, step.dst, filters)
    base_local, base_remote = bases()
    sides = Sides(
        _versions(local),
        _versions(remote),
        base_local,
        base_remote,
        LOCAL_TOLERANCE,
        await _remote_tolerance(session),
    )
    fixes = tuple(fix for fix in plan_type_fixes(sides) if _can_apply(fix))
    await _refuse_hidden(session, step, fixes)
    for fix in fixes:
        logger.info("bisync: file ↔ folder: {}", fix.describe(dry_run=dry_run))
        if not dry_run:
            await _apply(session, step, fix)
    return TypeOutcome(fixes, dry_run)
