"""Files a bisync run replaced (overwrote or deleted) although they had changed since its
listing (finding 16-5).

Measured with rclone 1.75.2: bisync decides from listings taken when the run starts, then
copies with ``sync`` (which reads the destination again): a local file written after the
listing (a local writer; the gap of a delete-and-recreate) is overwritten by the remote's
version, or deleted, with no conflict copy; and on the remote, the other machine's copy made
meanwhile (bisync's lock is per machine) is overwritten the same way, its writer having
recorded it as synced. Either version is then found nowhere.

Design: every ordinary bisync run passes ``--backup-dir1`` (a folder in the state dir), and
for provider ``local`` ``--backup-dir2`` (also in the state dir, reached through bisync's
remote), so rclone moves each file it is about to overwrite or delete there first.
Afterwards a backed-up file that matches bisync's prior listing of that side (same size,
mtime within 1 µs) is what the last run left there, which bisync meant to replace: it is
dropped. Any other is a change bisync did not see: it is put back on its side, under its own
name when that is free (a delete), else as the next free ``NAME.conflictN`` (as
``--conflict-loser num`` names losers), and the next run (the daemons see the new file)
syncs it. Cost: a rename per file a run replaces; the prior listings are copied before the
run (a file copy each) and parsed only when something was backed up. Left open: other
remotes (no place on them that both machines exclude), and a write during the copy of that
very file (between rclone's move aside and its rename into place): the file's transfer
time."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from watcher.engine.bisync_listing import Listing, listed_version
from watcher.plan.resync import conflict_name

#: The state dir's folders rclone moves a side's replaced files into (``…1``, ``…2``).
REPLACED_DIR = "bisync-replaced"


@dataclass(frozen=True)
class Guard:
    """One side whose replaced files rclone moves aside: ``flag`` and ``value`` for rclone,
    the ``backups`` folder, the side's folder ``root``, a copy of its prior listing."""

    flag: str
    value: str
    backups: Path
    root: Path
    prior: Path | None

    def reader(self, parse: Callable[[Path], Listing]) -> Callable[[], Listing]:
        """A function reading the prior listing with ``parse`` (``{}`` without one)."""
        if self.prior is None:
            return dict
        return functools.partial(parse, self.prior)


def replace_guards(
    state: Path,
    listings: tuple[Path, str | None],
    sync_root: Path,
    remote: tuple[Path | None, str],
) -> list[Guard]:
    """The guards of one run: the local side, and for provider ``local`` the remote folder
    (``remote``: that folder and bisync's path2 argument, whose remote name reaches the state
    dir too); ``listings``: bisync's workdir and its listings' stem (``None``: none yet)."""
    workdir, stem = listings
    sides: list[tuple[int, Path, str]] = [(1, sync_root, "")]
    if remote[0] is not None:
        sides.append((2, remote[0], remote[1].partition(":")[0] + ":"))
    guards = []
    for side, root, prefix in sides:
        backups = state / f"{REPLACED_DIR}{side}"
        prior = prior_copy(workdir, stem, backups.with_suffix(".prior"), side)
        guards.append(Guard(f"--backup-dir{side}", f"{prefix}{backups}", backups, root, prior))
    return guards


def guard_args(guards: list[Guard]) -> list[str]:
    """rclone's flags for ``guards``."""
    return [arg for guard in guards for arg in (guard.flag, guard.value)]


def prior_copy(workdir: Path, stem: str | None, copy: Path, side: int = 1) -> Path | None:
    """Copy bisync's prior listing of ``side`` (``stem.pathN.lst``) to ``copy`` (outside the
    workdir, whose ``*.lst*`` files are bisync's), before the run replaces it; ``None`` when
    there is none."""
    if stem is None:
        return None
    listing = workdir / f"{stem}.path{side}.lst"
    try:  # a copy, not a link: rclone rewrites its listing files in place
        shutil.copyfile(listing, copy)
    except OSError:
        return None
    return copy


def _files(folder: Path) -> list[str]:
    return sorted(
        str(Path(d, f).relative_to(folder)) for d, _s, files in os.walk(folder) for f in files
    )


def _pristine(path: Path, base: tuple[int, float] | None) -> bool:
    if base is None:
        return False
    st = path.stat()
    return listed_version(st.st_size, st.st_mtime_ns, base)


def _put_back(path: Path, root: Path, rel: str) -> str:
    """Move ``path`` to ``root/rel`` when free, else to the next free ``rel.conflictN``."""
    target = rel
    if os.path.lexists(root / rel):
        folder = (root / rel).parent
        taken = {
            str(Path(rel).parent / p.name).casefold().removeprefix("./")
            for p in (folder.iterdir() if folder.is_dir() else [])
        }
        target = conflict_name(rel, taken)
    (root / target).parent.mkdir(parents=True, exist_ok=True)
    path.rename(root / target)
    return target


def keep_overwritten(backups: Path, root: Path, read_prior: Callable[[], Listing]) -> list[str]:
    """Drop the backed-up files under ``backups`` that match ``read_prior()`` (bisync's prior
    listing of that side) and put every other one back under that side's folder ``root``
    (the sync root, or a local remote's folder); returns the names they got there."""
    names = _files(backups) if backups.is_dir() else []
    if not names:
        return []
    prior = read_prior()
    kept, stuck = [], []
    for rel in names:
        path = backups / rel
        try:
            if _pristine(path, prior.get(rel)):
                path.unlink()
                continue
            target = _put_back(path, root, rel)
        except OSError as exc:  # left where it is: the next run tries again
            stuck.append(rel)
            logger.error("bisync: could not put back {} (in {}): {}", rel, backups, exc)
            continue
        kept.append(target)
        logger.warning(
            "bisync: {} changed in {} after the run had listed it and was replaced by "
            "rclone; that version is kept as {}",
            rel,
            root,
            target,
        )
    if not stuck:
        shutil.rmtree(backups, ignore_errors=True)
    return kept
