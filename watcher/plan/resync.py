"""What a bisync ``--resync`` does, decided before it runs (pure).

rclone's resync copies the version its ``--resync-mode`` prefers over the other one and keeps no
copy of the loser (measured with rclone 1.75: ``f1.txt: Copied (replaced existing)``, nothing
else). So before a resync the engine lists both sides, and for every path that exists on both
with different content this module names the side whose version will be overwritten and a free
``<name>.conflictN`` beside it; the engine copies the loser there, and the resync then carries
that copy to the other side like any one-sided file. Both versions exist afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Literal

from watcher.config import Config

Side = Literal["local", "remote"]

#: ``conflict_resolve`` -> rclone's ``--resync-mode`` (path1 = the sync root, path2 = remote).
RESYNC_MODE = {"newer": "newer", "local": "path1", "remote": "path2"}
#: Modification times closer than this (seconds) are a tie: rclone's pick is then not
#: predictable across backends, so both versions are kept.
TIE = 1.0
#: Longest file name (one path component) in bytes.
NAME_MAX = 255


@dataclass(frozen=True)
class Version:
    """One side's copy of a file: size, modification time, and a content hash when the two
    sides share a hash type (``""`` otherwise)."""

    size: int
    mtime: float
    hash: str = ""


@dataclass(frozen=True)
class KeepCopy:
    """Before the resync, copy ``path`` on ``side`` to ``copy`` on the same side."""

    side: Side
    path: str
    copy: str

    def describe(self) -> str:
        """``f1.txt (local) -> f1.txt.conflict1``."""
        return f"{self.path} ({self.side}) -> {self.copy}"


def effective_resolve(conflict_resolve: str, *, remote_modtime: bool = True) -> str:
    """``conflict_resolve`` as it can be applied: ``newer`` needs modification times on both
    sides; on a remote without them (rclone then ignores ``newer`` and renames both copies)
    the local version wins and the remote one is kept as ``NAME.conflictN``."""
    return "local" if conflict_resolve == "newer" and not remote_modtime else conflict_resolve


def resync_mode_flags(cfg: Config, *, remote_modtime: bool = True) -> tuple[str, ...]:
    """``--resync-mode`` matching ``conflict_resolve``, so that a resync keeps the version a
    conflict would keep (rclone's default, path1, would let an older local copy win)."""
    resolve = effective_resolve(cfg.conflict_resolve, remote_modtime=remote_modtime)
    return ("--resync-mode", RESYNC_MODE[resolve])


def resync_effect(conflict_resolve: str) -> str:
    """One sentence saying what a resync does to which side, for messages."""
    winner = {
        "newer": "the newer version",
        "local": "the local version",
        "remote": "the remote version",
    }[conflict_resolve]
    return (
        "it copies files that exist on one side only to the other and deletes nothing; a file "
        f"that differs between the sides gets {winner} on both sides (conflict_resolve = "
        f"{conflict_resolve}), and the other version is kept as NAME.conflictN"
    )


def differs(local: Version, remote: Version) -> bool:
    """True when the two copies may hold different bytes: sizes differ, or hashes differ, or
    (without hashes) the modification times differ."""
    if local.size != remote.size:
        return True
    if local.hash and remote.hash:
        return local.hash != remote.hash
    return abs(local.mtime - remote.mtime) >= TIE


def losers(conflict_resolve: str, local: Version, remote: Version) -> tuple[Side, ...]:
    """The sides whose copy a resync overwrites (both when ``newer`` meets a tie). Same size
    and a tied mtime is a tie in every mode: rclone then takes the two for identical and
    copies neither way, so the winner would exist on its own side only and the next edit on
    the other side would replace it with no copy left; both versions are kept instead."""
    tie = abs(local.mtime - remote.mtime) < TIE
    if tie and local.size == remote.size:
        return ("local", "remote")
    if conflict_resolve == "local":
        return ("remote",)
    if conflict_resolve == "remote":
        return ("local",)
    if tie:
        return ("local", "remote")
    return ("local",) if local.mtime < remote.mtime else ("remote",)


def conflict_name(path: str, taken: set[str]) -> str:
    """``path.conflictN`` with the smallest N whose name (compared case-insensitively) is not
    in ``taken`` (casefolded paths); the file name is shortened to fit :data:`NAME_MAX`."""
    folder, slash, name = path.rpartition("/")
    n = 1
    while True:
        suffix = f".conflict{n}"
        room = NAME_MAX - len(suffix.encode())
        data = name.encode("utf-8", "surrogateescape")
        stem = data[:room].decode("utf-8", "ignore") if len(data) > room else name
        candidate = f"{folder}{slash}{stem}{suffix}"
        if candidate.casefold() not in taken:
            return candidate
        n += 1


def plan_keep_copies(
    conflict_resolve: str,
    local: Mapping[str, Version],
    remote: Mapping[str, Version],
    same: AbstractSet[str] = frozenset(),
) -> tuple[KeepCopy, ...]:
    """The copies that keep every version a resync would overwrite (none for the paths in
    ``same``, whose bytes were compared and found equal). Names are free on both sides (a
    copy made on one side is carried to the other by the resync) and never reuse a name
    taken by another copy of this plan."""
    taken = {p.casefold() for p in _union(local, remote)}
    plan: list[KeepCopy] = []
    for path in sorted(set(local) & set(remote)):
        if path in same or not differs(local[path], remote[path]):
            continue
        for side in losers(conflict_resolve, local[path], remote[path]):
            copy = conflict_name(path, taken)
            taken.add(copy.casefold())
            plan.append(KeepCopy(side, path, copy))
    return tuple(plan)


def _union(*sides: Iterable[str]) -> set[str]:
    return {p for side in sides for p in side}
