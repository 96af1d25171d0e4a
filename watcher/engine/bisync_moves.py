"""Folder renames in bisync mode: the same move on the remote before the bisync run.

Measured with rclone 1.75.2: renaming a folder that holds 20 of 22 files makes the next
``rclone bisync`` abort with "Safety abort: too many deletes (>50%, 20 of 22)" (its
``--max-delete``, default 50 %, counts the old names as deletions), with ``--track-renames``
too (the safety check comes first); past it every file would be copied again under its new
name. ``--max-delete`` takes values over 100 and aborts when ``deletes * 100 > max_delete *
listed`` (90 aborts 20 of 22, 91 passes). Raising ``--max-delete`` or passing ``--force``
for every run would switch the safety off for real mass deletions too.

Design: the folder is moved on the remote first (``rclone move``, see
:mod:`watcher.engine.moves`, with the same checks), so both sides changed identically: bisync
sees the same deletions and the same new files on both sides, finds the new files equal
("Files are equal! Skipping") and copies nothing. Conflict detection stays intact: a file
edited on either side still differs and is handled by ``--conflict-resolve``. That run's
delete budget grows by exactly the moved count: ``--max-delete`` becomes the percentage of
bisync's last listing that the moved files plus rclone's usual 50 % make up. When every file
of the listing was moved, bisync's other check ("all files were changed") would abort too;
there is nothing else left to delete then, so that run gets ``--force``. A move that does
not hold is not done; bisync then runs as before (and its own safety decides).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from loguru import logger

from watcher.engine.moves import MovesOutcome, apply_moves
from watcher.engine.session import Session
from watcher.plan import Step
from watcher.plan.moves import Move, under

#: rclone bisync's own ``--max-delete`` default (percent of a side's last listing).
BISYNC_MAX_DELETE = 50


def delete_budget(moved: int, listed: int) -> list[str]:
    """The flags that let one bisync run delete ``moved`` more files than usual, for a side
    whose last listing held ``listed`` files (pure)."""
    if moved <= 0 or listed <= 0:
        return []
    if moved >= listed:
        return ["--force"]
    percent = (moved * 100 + BISYNC_MAX_DELETE * listed) // listed
    return ["--max-delete", str(percent)]


def moved_in_listing(listing: Collection[str], outcome: MovesOutcome) -> int:
    """How many files of bisync's last local listing lie under the sources of the moves done
    (what bisync will see deleted on both sides: also after a retry, when the remote move
    was already done by the failed run and there was nothing left to move); files left at
    the source (deleted locally after the rename) are real deletions and do not count."""
    sources = [d.move.src for d in outcome.done]
    left = {f"{d.move.src}/{rel}" for d in outcome.done for rel in d.left}
    return sum(
        1 for name in listing if name not in left and any(under(name, src) for src in sources)
    )


async def bisync_moves(
    session: Session,
    step: Step,
    moves: Collection[Move],
    listings: tuple[Collection[str], Collection[str]],
) -> tuple[list[str], MovesOutcome]:
    """Do ``moves`` on the remote side (``step.dst``) and return the extra bisync flags for
    this run (see :func:`delete_budget`; ``listings``: the paths of bisync's last listings,
    local and remote) and what was moved."""
    if not moves:
        return [], MovesOutcome()
    root = Path(step.src)
    outcome = await apply_moves(session, root, step.dst, moves, rules=step.filter, keep_remote=True)
    if outcome.fallback:
        logger.info("bisync: folder not moved on the remote first ({})", outcome.fallback)
    listed = min(len(side) for side in listings)
    return delete_budget(moved_in_listing(listings[0], outcome), listed), outcome
