"""Folder renames seen by the watcher, kept in order and composed (pure).

A folder renamed inside the sync root (watchdog's moved-folder event) is recorded as a
:class:`Move` instead of as a deletion and a creation of every file in it; the engine then
moves the folder on the remote (:mod:`watcher.engine.moves`). :class:`MoveLog` keeps the moves
of one batch of events in order and composes them:

- a chain ``a → b`` then ``b → c`` becomes ``a → c`` (``b`` never reached the remote);
  ``a → b`` then ``b → a`` cancels out;
- a move of a folder that holds an earlier move's destination (``x → d/b``, then ``d → e``)
  rewrites that destination (``x → e/b``): every destination names where the files are now;
- paths changed before a move, under its source, now live under its destination;
- a move whose destination is then deleted or moved out of the sync root is dropped
  (:meth:`MoveLog.drop`): ``mv docs papers; mv papers /elsewhere; mv other papers`` is no
  rename of docs;
- the per-file moves watchdog reports for the files below a moved folder are *covered* by
  the folder's move (:meth:`MoveLog.covers`) and are not pushed as paths; a subfolder's move
  reported before its folder's (watchdog's polling observer) is dropped for the folder's.

Everything is checked again against the disk and the remote when the moves run; a move that
no longer holds falls back to the full, guarded push.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from watcher.plan.filters import PathFilter, glob_escape


@dataclass(frozen=True)
class Move:
    """A folder renamed from ``src`` to ``dst`` (sync-root-relative POSIX paths)."""

    src: str
    dst: str

    def describe(self) -> str:
        """``src → dst`` for logs and run records."""
        return f"{self.src} → {self.dst}"


def under(path: str, folder: str) -> bool:
    """True when ``path`` is ``folder`` or lies below it (POSIX, relative)."""
    return path == folder or path.startswith(folder + "/")


def rebase(path: str, old: str, new: str) -> str:
    """``path`` (at or below ``old``) moved below ``new``."""
    return new + path[len(old) :]


def _part_of(part: Move, whole: Move) -> bool:
    """True when ``part`` is what ``whole`` did to something below its folder."""
    return (
        part != whole
        and under(part.src, whole.src)
        and under(part.dst, whole.dst)
        and part.src[len(whole.src) :] == part.dst[len(whole.dst) :]
    )


@dataclass
class MoveLog:
    """The folder moves of one batch of events, in order (see the module docstring)."""

    moves: list[Move] = field(default_factory=list)
    #: Moves as watchdog reported them (before composition), for :meth:`covers`.
    seen: list[Move] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.moves)

    def add(self, move: Move, paths: set[str]) -> None:
        """Record ``move``; ``paths`` (changed files waiting for the push) under its source
        are rebased under its destination, in place."""
        if move.src == move.dst or under(move.dst, move.src):
            return
        self.seen.append(move)
        for rel in [p for p in paths if under(p, move.src)]:
            paths.discard(rel)
            paths.add(rebase(rel, move.src, move.dst))
        composed: list[Move] = []
        chained = False
        for earlier in self.moves:
            if _part_of(earlier, move):
                continue  # a subfolder of this move reported first (polling): this move has it
            if earlier.dst == move.src:
                chained = True
                earlier = Move(earlier.src, move.dst)
            elif under(earlier.dst, move.src):
                earlier = Move(earlier.src, rebase(earlier.dst, move.src, move.dst))
            if earlier.src != earlier.dst:
                composed.append(earlier)
        self.moves = composed if chained else [*composed, move]

    def covers(self, src: str, dst: str) -> bool:
        """True when a file moved ``src → dst`` is the move of a file below a moved folder."""
        return any(_part_of(Move(src, dst), m) for m in self.seen)

    def extend(self, earlier: Iterable[Move]) -> None:
        """Put ``earlier`` moves (e.g. of a failed run, to be retried) before these ones."""
        self.moves = [*earlier, *self.moves]

    def drop(self, folder: str) -> None:
        """``folder`` was deleted or moved out of the sync root: a move that put files there
        is no rename any more (its files left the sync: deletions, for the guard)."""
        self.moves = [m for m in self.moves if not under(m.dst, folder)]

    def clear(self) -> None:
        """Forget every move (events were lost: the full cycle decides alone)."""
        self.moves.clear()
        self.seen.clear()


@dataclass(frozen=True)
class ScopedFilter(PathFilter):
    """The sync's filter limited to the folder ``scope`` (relative to the sync root): a sync of
    the whole root with it touches that folder only, and the guard lists only that folder.
    The rules go to rclone as ``--filter`` rules, in order, first match wins."""

    scope: str = ""

    def excluded(self, rel_path: str, *, is_dir: bool = False) -> bool:
        """True outside ``scope`` (its parent folders excepted), else as the sync's filter."""
        rel = rel_path.strip("/")
        if rel and not (under(rel, self.scope) or (is_dir and under(self.scope, rel))):
            return True
        return super().excluded(rel_path, is_dir=is_dir)

    def rclone_args(self) -> list[str]:
        """The sync's excludes, then everything in ``scope``, then nothing else."""
        args: list[str] = []
        for pattern in self.patterns:
            args += ["--filter", f"- {pattern}"]
        return [*args, "--filter", f"+ /{glob_escape(self.scope)}/**", "--filter", "- **"]
