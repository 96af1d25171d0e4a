"""bisync after a baseline of two empty trees.

Measured with rclone 1.75.2: when bisync's prior listings of both sides hold no file (a
``--resync`` of an empty sync root and an empty remote root), every later ``rclone bisync``
aborts with "Empty prior Path1 listing. Cannot sync to an empty directory" and "Bisync
critical error" (an empty prior listing could mean that everything was deleted, so rclone
refuses it on purpose), and a ``--resync`` while both trees are still empty writes the same
empty listings again. A user who starts with an empty workspace and an empty remote could
never sync.

Design (the one narrow case where the tool resyncs without being asked): before a normal run
whose baseline is empty, both sides are listed through rclone with the filters bisync uses.

- Both sides still hold no file: the run succeeds doing nothing (rclone is not asked to fail).
- Files exist, but no relative path on both sides: each of them is new since the empty
  baseline, so copying each side's files to the other overwrites and deletes nothing. They
  are copied each way with ``--ignore-existing`` (another machine may have put the same path
  on the remote since the listing: found by the convergence oracle, two bisync machines
  starting together), then both sides are listed again: a path whose two versions differ
  is refused as below; otherwise the trees agree and a resync re-establishes the baseline
  without overwriting anything.
- Some path exists on both sides: the two versions were made independently and a resync
  would overwrite one of them, so the run is refused (blocked) naming those paths, with the
  usual ``sync --resync`` advice; the tool never picks a version on its own here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from watcher.engine.oneway import list_both
from watcher.engine.session import Session
from watcher.errors import SyncFailed
from watcher.plan import Step
from watcher.rclone import Entry

#: How many paths present on both sides a refusal names.
NAMED_PATHS = 3

Action = Literal["nothing", "resync", "blocked"]


@dataclass(frozen=True)
class EmptyBaselinePlan:
    """What to do after an empty baseline: ``nothing`` (both sides still empty), ``resync``
    (only new files, none on both sides) or ``blocked`` (``common`` exists on both sides)."""

    action: Action
    local_files: int
    remote_files: int
    common: tuple[str, ...] = ()

    def describe_common(self) -> str:
        """The first paths on both sides, quoted, e.g. ``'a.txt', 'b.md' and 2 more``."""
        return describe_paths(self.common)


def describe_paths(paths: Sequence[str]) -> str:
    """The first :data:`NAMED_PATHS` of ``paths``, quoted, then ``and N more``."""
    named = ", ".join(repr(p) for p in paths[:NAMED_PATHS])
    more = len(paths) - NAMED_PATHS
    return f"{named} and {more} more" if more > 0 else named


def plan_after_empty_baseline(local: Collection[str], remote: Collection[str]) -> EmptyBaselinePlan:
    """Decide what a run after an empty baseline does, from the paths each side holds now
    (after the filters; pure)."""
    common = tuple(sorted(set(local) & set(remote)))
    if common:
        return EmptyBaselinePlan("blocked", len(local), len(remote), common)
    if not local and not remote:
        return EmptyBaselinePlan("nothing", 0, 0)
    return EmptyBaselinePlan("resync", len(local), len(remote))


def listing_is_empty(path: Path) -> bool:
    """True when a bisync listing file holds no entry (only its ``#`` header lines); False
    when it holds one or cannot be read."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return False
    return all(not line.strip() or line.startswith("#") for line in lines)


def listings_empty(workdir: Path, stem: str) -> bool:
    """True when both of bisync's prior listings with file-name ``stem`` hold zero entries:
    the baseline of two empty trees, which rclone refuses to run from."""
    return all(listing_is_empty(workdir / f"{stem}.path{side}.lst") for side in (1, 2))


async def plan_sides(session: Session, step: Step) -> EmptyBaselinePlan:
    """List both sides through rclone (with the filters bisync uses; a side that does not
    exist holds no file) and decide what the run after an empty baseline does. Raises
    :class:`~watcher.errors.SyncFailed` when a listing fails."""
    filters = [*step.filter.rclone_args(), *session.link_args()]
    local, remote = await list_both(session.rc, step.src, step.dst, filters)
    return plan_after_empty_baseline([e.path for e in local or []], [e.path for e in remote or []])


async def merge_new_files(session: Session, step: Step) -> tuple[str, ...]:
    """Copy each side's files to the other, replacing none (``--ignore-existing``), and
    return the paths whose two versions still differ (size, content hash where both sides
    have one, else modtime beyond 1 s): made on both sides, for the user to choose."""
    filters = [*step.filter.rclone_args(), *session.link_args()]
    for src, dst in ((step.src, step.dst), (step.dst, step.src)):
        result = await session.rc.run(["copy", src, dst, "--ignore-existing", *filters])
        if not result.ok:
            raise SyncFailed(
                f"bisync: copying the new files after an empty baseline failed: {result.message()}"
            )
    local, remote = await list_both(session.rc, step.src, step.dst, filters, hash_type="md5")
    theirs = {e.path: e for e in remote or []}
    return tuple(sorted(e.path for e in local or [] if _differ(e, theirs.get(e.path))))


def _differ(mine: Entry, theirs: Entry | None) -> bool:
    if theirs is None:
        return False  # new since the listing: the resync copies it, overwriting nothing
    if mine.size != theirs.size:
        return True
    if mine.hash and theirs.hash:
        return mine.hash != theirs.hash
    return abs(mine.mtime - theirs.mtime) > 1.0


__all__ = [
    "EmptyBaselinePlan",
    "describe_paths",
    "listing_is_empty",
    "listings_empty",
    "merge_new_files",
    "plan_after_empty_baseline",
    "plan_sides",
]
