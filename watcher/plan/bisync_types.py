"""File ↔ folder changes before a bisync run, decided from both sides' listings and bisync's
prior listings (the baseline; pure).

Measured with rclone 1.75.2: when one side replaced the synced file ``P`` by a folder ``P/``
(or a folder by a file), ``rclone bisync`` copies ``P/inner.txt`` to the side where the file
``P`` still is before it deletes anything, fails with "mkdir …/P: not a directory" (the other
way: "partial file rename failed"), and aborts with "Bisync critical error … Must run --resync
to recover": one ordinary edit stopped every later run until a resync.

Design: a path that is a file on one side (the *file side*) and a folder on the other (the
*folder side*) is settled before the run, from what each side held at the last run:

- The side whose entry at ``P`` still matches its baseline (same files, same sizes, mtimes
  within the backend's precision) did not change it: it gives way. Its file ``P``, or the
  files of its folder ``P/``, are removed there, which is what bisync itself does with a
  deletion the other side made (bisync keeps no copy of what it deletes; only what equals the
  baseline, and so exists in the last synced state, is ever removed).
- Otherwise both sides changed ``P`` (or one cannot be shown unchanged): a conflict. The file
  side's file is renamed to ``P.conflictN`` (the next free N, as ``--conflict-loser num``
  names losers), so both versions survive: the folder keeps the name, bisync copies the
  renamed file across as a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from watcher.plan.resync import Side, conflict_name
from watcher.plan.typechange import folders_of

#: ``{path: (size, mtime)}`` of one side (a current listing or bisync's prior one).
Listing = Mapping[str, tuple[int, float]]
Action = Literal["remove-file", "remove-folder", "keep-copy"]


@dataclass(frozen=True)
class TypeFix:
    """What to do on ``side`` before the run for the path ``path``: ``remove-file`` (delete
    the file ``path``), ``remove-folder`` (delete ``files``, the folder's files, then its empty
    folders) or ``keep-copy`` (rename the file ``path`` to ``copy``)."""

    path: str
    side: Side
    action: Action
    files: tuple[str, ...]
    copy: str = ""

    def describe(self, *, dry_run: bool = False) -> str:
        """One phrase for the log and the summary, e.g. ``a.txt: a folder on the local side;
        the remote file (unchanged since the last run) removed``."""
        other = "remote" if self.side == "local" else "local"
        if self.action == "keep-copy":
            kept = "would be kept" if dry_run else "kept"
            return (
                f"{self.path}: changed on both sides (a folder on the {other} side); "
                f"the {self.side} file {kept} as {self.copy}"
            )
        removed = "would be removed" if dry_run else "removed"
        if self.action == "remove-file":
            return (
                f"{self.path}: a folder on the {other} side; the {self.side} file "
                f"(unchanged since the last run) {removed}"
            )
        return (
            f"{self.path}: a file on the {other} side; the {self.side} folder "
            f"({len(self.files)} files, unchanged since the last run) {removed}"
        )


def unchanged(
    current: Listing, base: Listing, paths: Iterable[str], tolerance: float | None
) -> bool:
    """True when each of ``paths`` is in ``current`` as it was in ``base``: same size, mtimes
    less than ``tolerance`` seconds apart (``None``: the backend keeps no modtimes, so an
    equal size proves nothing and the answer is False)."""
    listed = list(paths)
    if tolerance is None or not listed:
        return False
    for path in listed:
        now, then = current.get(path), base.get(path)
        if now is None or then is None or now[0] != then[0] or abs(now[1] - then[1]) >= tolerance:
            return False
    return True


def _under(listing: Iterable[str], folder: str) -> tuple[str, ...]:
    prefix = folder + "/"
    return tuple(sorted(p for p in listing if p.startswith(prefix)))


def _other(side: Side) -> Side:
    return "remote" if side == "local" else "local"


@dataclass(frozen=True)
class Sides:
    """Both sides now and at the last run, and how closely each side's mtimes compare
    (seconds; ``None`` when that side keeps none)."""

    local: Listing
    remote: Listing
    base_local: Listing
    base_remote: Listing
    local_tolerance: float | None = 1e-6
    remote_tolerance: float | None = 1e-6

    def now(self, side: Side) -> Listing:
        """The current listing of ``side``."""
        return self.local if side == "local" else self.remote

    def base(self, side: Side) -> Listing:
        """bisync's prior listing of ``side``."""
        return self.base_local if side == "local" else self.base_remote

    def tolerance(self, side: Side) -> float | None:
        """The mtime tolerance of ``side``."""
        return self.local_tolerance if side == "local" else self.remote_tolerance


def type_conflicts(local: Iterable[str], remote: Iterable[str]) -> list[tuple[str, Side]]:
    """``(path, file side)`` for every path that is a file on one side and a folder on the
    other, sorted by path."""
    local_files, remote_files = set(local), set(remote)
    found: list[tuple[str, Side]] = [(p, "local") for p in local_files & folders_of(remote_files)]
    found += [(p, "remote") for p in remote_files & folders_of(local_files)]
    return sorted(found)


def plan_type_fixes(sides: Sides) -> tuple[TypeFix, ...]:
    """What each file ↔ folder change needs before the run (see the module docstring)."""
    listings = (sides.local, sides.remote, sides.base_local, sides.base_remote)
    taken = {path.casefold() for listing in listings for path in listing}
    fixes: list[TypeFix] = []
    for path, file_side in type_conflicts(sides.local, sides.remote):
        folder_side = _other(file_side)
        inside = _under(sides.now(folder_side), path)
        file_kept = unchanged(
            sides.now(file_side), sides.base(file_side), [path], sides.tolerance(file_side)
        )
        folder_kept = set(inside) == set(_under(sides.base(folder_side), path)) and unchanged(
            sides.now(folder_side), sides.base(folder_side), inside, sides.tolerance(folder_side)
        )
        if file_kept and not folder_kept:
            fixes.append(TypeFix(path, file_side, "remove-file", (path,)))
        elif folder_kept and not file_kept:
            fixes.append(TypeFix(path, folder_side, "remove-folder", inside))
        else:
            copy = conflict_name(path, taken)
            taken.add(copy.casefold())
            fixes.append(TypeFix(path, file_side, "keep-copy", (path,), copy))
    return tuple(fixes)


__all__ = ["Sides", "TypeFix", "plan_type_fixes", "type_conflicts", "unchanged"]
