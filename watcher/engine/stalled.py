"""Stalled paths are synced apart in one-way full runs (mirror pull, mailbox push).

rclone holds back every delete of a ``sync`` that had an IO error ("not deleting files as
there were IO errors"), so one path that fails every run (an excluded local file where the
other side has a folder of that name, a file that cannot be overwritten, a name the other side
refuses) would keep every deletion of the tree from ever propagating. A path that
:mod:`watcher.engine.failing` counts as stalled for the step kind (:data:`STALL_AFTER` failed
runs in a row) is therefore left out of the main ``rclone sync`` with an exact exclude
(:func:`~watcher.plan.filters.exact_exclude`), so that the rest of the tree converges, deletes
included, and retried apart in the same run: ``rclone copy --files-from-raw`` over just those
paths, never deleting (a pull's copy keeps the pull's ``--backup-dir``). Its count goes on, the
step fails and ``status`` names it until it makes it; then it is cleared like any path that
stops failing. The guard's listings and checks are those of the main run, unchanged.

A stalled path that no exclude can express (a line break, a name that is not valid UTF-8) and
one the source does not hold (a delete that fails, which holds back no other delete) stay in
the main sync: the old behaviour; so does every path of a ``--force`` run, which takes no
listing of the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loguru import logger

from watcher.engine.failing import STALL_AFTER, read_failing
from watcher.engine.state import RunRecord, StatePaths
from watcher.plan import Step
from watcher.plan.filters import exact_exclude
from watcher.rclone import Entry, Rclone, RcloneResult
from watcher.rclone.causes import find_cause
from watcher.rclone.encoding import without_partial

#: At most this many paths are named in a run's message.
SHOWN = 5


@dataclass(frozen=True)
class Apart:
    """The stalled paths one run leaves out of its main sync (each one an exact exclude can
    express)."""

    paths: tuple[str, ...] = ()

    def filters(self) -> list[str]:
        """The ``--exclude`` arguments that leave exactly :attr:`paths` out."""
        args: list[str] = []
        for path in self.paths:
            pattern = exact_exclude(path)
            if pattern is not None:
                args += ["--exclude", pattern]
        return args


def set_apart(paths: StatePaths, step: Step, src: list[Entry] | None) -> Apart:
    """The paths stalled for ``step.kind`` that its main sync leaves out: those the step's
    filter lets through and an exact exclude can express, that the source holds as files by
    the guard's listing ``src``. None without a listing (``--force`` skips the guard): a
    path the source lacks would pass for made by a copy that finds nothing to copy."""
    if src is None:
        return Apart()
    counts = read_failing(paths).get(step.kind, {})
    held = {entry.path for entry in src}
    kept = sorted(
        path
        for path, count in counts.items()
        if count >= STALL_AFTER
        and path in held
        and exact_exclude(path) is not None
        and not step.filter.excluded(path)
    )
    return Apart(tuple(kept))


@dataclass(frozen=True)
class Retried:
    """The retry of the paths set apart: ``result`` is ``None`` when it did not run."""

    apart: Apart
    result: RcloneResult | None = None

    @property
    def failing(self) -> tuple[str, ...]:
        """The paths set apart that did not make it (all of them when the retry did not run,
        or failed without naming one)."""
        if self.result is None:
            return self.apart.paths
        if self.result.ok:
            return ()
        named = {without_partial(obj) for obj in self.result.error_objects}
        return tuple(p for p in self.apart.paths if p in named) or self.apart.paths

    @property
    def sizes(self) -> dict[str, int]:
        """The sizes rclone logged for the files the retry transferred."""
        return {} if self.result is None else dict(self.result.sizes)

    def note(self) -> str:
        """What the retry did, for the run's message (``""`` when it did not run)."""
        if self.result is None:
            return ""
        paths, failing = self.apart.paths, self.failing
        if not failing:
            return f"; {len(paths)} stalled path(s) retried apart made it ({_names(paths)})"
        return (
            f"; {len(failing)} stalled path(s) left out of the sync, retried apart, still "
            f"failing ({_names(failing)}): {self.result.message()}"
        )

    def fold(self, record: RunRecord) -> RunRecord:
        """``record`` of the main sync with the retry's transfers and errors added; failed
        while a path set apart still fails."""
        if self.result is not None:
            record.transferred += len(self.result.transferred)
            record.errors += len(self.result.errors)
            record.stalled_only = record.ok and bool(self.failing)
            record.ok = record.ok and not self.failing
        return record


async def retry_apart(
    rc: Rclone, step: Step, apart: Apart, main: RcloneResult, flags: Sequence[str]
) -> Retried:
    """Copy the paths set apart from ``step.src`` to ``step.dst`` (``rclone copy
    --files-from-raw``, no deletes; ``flags``: the main sync's link, compare and backup
    flags). Not run when nothing is apart, or when the main sync ran out of time or could not
    reach the remote (``main``): the next run retries."""
    if not apart.paths or main.timed_out:
        return Retried(apart)
    names = sorted({*main.error_objects, step.src, step.dst}, key=len, reverse=True)
    if find_cause(main.errors, ignore=names) is not None:
        return Retried(apart)
    logger.info(
        "{}: {} stalled path(s) left out of the sync, retried apart: {}",
        step.kind,
        len(apart.paths),
        _names(apart.paths),
    )
    args = ["copy", step.src, step.dst, "--no-traverse", *flags]
    return Retried(apart, await rc.run(args, files_from=apart.paths))


def _names(paths: Sequence[str]) -> str:
    """The first :data:`SHOWN` of ``paths``, comma-separated (``…`` when there are more)."""
    shown = ", ".join(paths[:SHOWN])
    return shown + (", …" if len(paths) > SHOWN else "")
