"""Pending work and the debounce policy (pure).

Events accumulate into :class:`Pending`; a run becomes due once the events have been quiet for
``debounce`` seconds, or ``max_delay`` seconds after the first of them, whichever comes first
(the policy of watchfiles' ``debounce``/``step``, applied to watchdog events).

Closed means done: where the watch reports close events (inotify's IN_CLOSE_WRITE on Linux), a
batch of local file changes whose every path was closed after its last write runs after
:data:`CLOSE_QUIET` instead of ``debounce``. A path modified after its last close (a writer
still has it open) holds the whole batch to ``debounce``/``max_delay``, as do changes of other
roots, lost events, watches without close events (macOS FSEvents, polling), and changes that
arrived while a run was in progress (a burst: the daemon sets :attr:`Pending.slow`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from loguru import logger

from watcher.daemon.events import Change
from watcher.plan.moves import MoveLog, under

#: More changed paths than this make a push a full one instead of an incremental one.
INCREMENTAL_LIMIT = 5000
#: Quiet time (s) after the last event before a batch whose files were all closed after
#: writing runs (at most ``debounce``): coalesces files written one right after another.
CLOSE_QUIET = 0.03


@dataclass
class Pending:
    """Work waiting for the next run.

    ``paths`` are sync-root-relative files changed locally (for an incremental push); ``full``
    asks for the mode's whole cycle; ``drain``/``pull``/``ingest``/``bisync`` ask for one step.
    ``urgent`` skips the debounce (start-up, ``trigger``, fallback timer, retries).
    ``moves`` are folder renames, pushed as moves on the remote before the paths
    (:mod:`watcher.plan.moves`); they survive a retry (each is checked again when it runs)
    but not lost events. ``carry`` are changed paths a ``full`` cycle took over (a failed
    push's, or changed while one was pending): on a backend whose full syncs cannot see a
    same-size edit they are pushed as listed paths after it (:func:`watcher.daemon.work.run_work`).
    ``writing`` are changed paths modified (or created) after their last close event, which a
    writer may still hold open; ``closes`` says a change came from a watch that reports close
    events, ``slow`` that one cannot use the closed-file path (:meth:`all_closed`).
    """

    paths: set[str] = field(default_factory=set)
    moves: MoveLog = field(default_factory=MoveLog)
    carry: set[str] = field(default_factory=set)
    full: bool = False
    drain: bool = False
    pull: bool = False
    ingest: bool = False
    bisync: bool = False
    urgent: bool = False
    first_event: float | None = None
    last_event: float | None = None
    writing: set[str] = field(default_factory=set)
    closes: bool = False
    slow: bool = False

    def __bool__(self) -> bool:
        return bool(
            self.paths
            or self.moves
            or self.full
            or self.drain
            or self.pull
            or self.ingest
            or self.bisync
        )

    def all_closed(self) -> bool:
        """True when the batch may run after :data:`CLOSE_QUIET`: only file changes of the
        sync root, seen by a watch that reports close events, each path closed after its last
        write (none in :attr:`writing`), and no other step or full cycle asked for."""
        return (
            self.closes
            and not self.slow
            and not self.writing
            and bool(self.paths or self.moves)
            and not (self.full or self.drain or self.pull or self.ingest or self.urgent)
        )

    def touch(self, now: float) -> None:
        """Note that an event arrived at ``now``."""
        if self.first_event is None:
            self.first_event = now
        self.last_event = now

    def add_path(self, rel: str, now: float) -> None:
        """A local file changed; too many of them turn into a full cycle."""
        if not self.full:
            self.paths.add(rel)
            if len(self.paths) > INCREMENTAL_LIMIT:
                self.full = True
                self.paths.clear()
        elif len(self.carry) < INCREMENTAL_LIMIT:
            self.carry.add(rel)
        self.touch(now)

    def merge(self, other: Pending) -> None:
        """Fold ``other`` (e.g. the work of a failed run) into this one."""
        self.full |= other.full
        self.carry |= other.carry
        if self.full:
            self.carry |= self.paths if len(self.paths) <= INCREMENTAL_LIMIT else set()
            self.paths.clear()
        else:
            self.paths |= other.paths
        self.moves.extend(other.moves.moves)
        self.drain |= other.drain
        self.pull |= other.pull
        self.ingest |= other.ingest
        self.bisync |= other.bisync
        self.urgent |= other.urgent
        self.writing |= other.writing
        self.closes |= other.closes
        self.slow |= other.slow
        for stamp in (other.first_event, other.last_event):
            if stamp is not None:
                self.first_event = min(self.first_event or stamp, stamp)
                self.last_event = max(self.last_event or stamp, stamp)

    def retry(self) -> Pending:
        """The work to run again after this work failed: urgent, and a full cycle instead of
        an incremental push of the same paths, so that one path that makes the list or the
        run fail cannot fail every retry and hold back the files changed since (the full
        push is guarded and carries whatever rclone can)."""
        again = dataclasses.replace(
            self,
            paths=set(),
            moves=MoveLog(list(self.moves.moves)),
            carry=self.carry | self.paths,
            writing=set(self.writing),
            urgent=True,
        )
        again.full = self.full or bool(self.paths) or bool(self.moves)
        return again


def wait_time(pending: Pending, now: float, debounce: float, max_delay: float) -> float | None:
    """Seconds until ``pending`` is due (0 = now), or ``None`` when there is nothing to do."""
    if not pending:
        return None
    if pending.urgent or pending.last_event is None or pending.first_event is None:
        return 0.0
    if pending.all_closed():
        debounce = min(debounce, CLOSE_QUIET)
    quiet = pending.last_event + debounce - now
    ceiling = pending.first_event + max_delay - now
    return max(0.0, min(quiet, ceiling))


def backoff_delay(
    failures: int, *, base: float = 2.0, cap: float = 300.0, jitter: float = 0.0
) -> float:
    """Delay before retry number ``failures`` (1-based): ``base * 2**(failures-1)`` capped at
    ``cap``, times ``1 + jitter`` (pass a random ``jitter`` in [0, 0.25) to spread retries)."""
    if failures <= 0:
        return 0.0
    return float(min(cap, base * 2.0 ** (failures - 1)) * (1 + jitter))


def apply_change(
    pending: Pending,
    remote_paths: set[str],
    change: Change | None,
    mode: str,
    now: float,
    *,
    closes: bool = False,
) -> None:
    """Turn one change from the observers into work: ``None`` (events lost) asks for a full
    cycle; the outbox, ingest folder and a local remote ask for their step; the sync root for
    an incremental push (mailbox) or a bisync run. ``closes``: the change's watch reports
    close events (else the batch keeps the normal debounce)."""
    if change is None or not closes or change.root.kind != "sync" or change.structural:
        pending.slow = True
    else:
        pending.closes = True
    if change is None:
        _events_lost(pending, now)
        return
    if change.move is not None and not change.paths and change.root.kind == "sync":
        _folder_move(pending, change, mode, now)
        return
    kind = change.root.kind
    if kind == "outbox":
        pending.drain = True
        pending.touch(now)
    elif kind == "ingest":
        pending.ingest = True
        pending.touch(now)
    elif kind == "remote" and mode == "mirror":
        pending.pull = True
        pending.touch(now)
    elif change.structural:
        pending.full = True
        pending.paths.clear()
        for folder in change.paths if kind == "sync" else ():
            pending.moves.drop(folder)
        pending.touch(now)
    elif kind == "remote":  # bisync, local remote
        pending.bisync = True
        remote_paths.update(change.paths)
        pending.touch(now)
    else:  # the sync root: incremental push (mailbox) or bisync
        _file_change(pending, change, mode, now)


def _events_lost(pending: Pending, now: float) -> None:
    """Events were lost (queue overflow, a watched folder went away): a full cycle."""
    logger.warning(
        "file events may have been missed (event queue overflow, or a watched folder "
        "went away): running a full cycle"
    )
    pending.full = True
    pending.moves.clear()
    pending.touch(now)


def _file_change(pending: Pending, change: Change, mode: str, now: float) -> None:
    """A file of the sync root changed: its path for the incremental push (mailbox) or the
    bisync run; :attr:`Pending.writing` is kept current (written paths join it, closed,
    deleted and renamed ones leave it; a renamed file's open writer moves along to the new
    name)."""
    if mode == "bisync":
        pending.bisync = True
    move = change.move
    if move is not None and pending.moves.covers(move.src, move.dst):
        pending.touch(now)  # a file moved along with its folder: the folder's move has it
        return
    for rel in change.paths:
        pending.add_path(rel, now)
    if move is not None:
        if move.src in pending.writing:
            pending.writing.add(move.dst)
        else:
            pending.writing.discard(move.dst)
        pending.writing.discard(move.src)
    elif change.writer == "open":
        pending.writing.update(change.paths)
    elif change.writer is not None:
        pending.writing.difference_update(change.paths)


def _folder_move(pending: Pending, change: Change, mode: str, now: float) -> None:
    """A folder renamed inside the sync root: a move for the mailbox push or the bisync run;
    mirror mode overwrites local edits by design, so there it asks for nothing, as before."""
    move = change.move
    if move is None or mode not in ("mailbox", "bisync"):
        return
    if any(under(rel, move.src) for rel in pending.writing):
        pending.slow = True  # a file in it is still being written
    if not pending.moves.covers(move.src, move.dst):  # else a subfolder moved along with it
        pending.moves.add(move, pending.paths)
    pending.bisync |= mode == "bisync"
    pending.touch(now)
