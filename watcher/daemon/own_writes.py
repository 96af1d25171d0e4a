"""How the daemon tells bisync's own writes from a user's (finding 16-10b).

A bisync run's copies and deletes fire events on the sides it writes (the sync root, a local
remote's folder); they must not start another run. They used to be recognised by the file
alone: the same size as bisync's listing and an mtime within 1 ms of it. A user's write of
as many bytes within that millisecond of the copy (the convergence oracle's seed 1603: ``b``
edited ``#%& 16.md`` 0.97 ms after the version it had just pulled) passed for bisync's own
copy, no run followed, and the edit never reached the other side.

Now each path a run's rclone log line names (rclone logs each copy, delete and move once it
is done: ``Copied (new)``, ``Deleted``, ``Moved (server-side)``) is stat()ed on each side the
moment the line arrives, and its exact identity is kept: ``(st_ino, st_size, st_mtime_ns,
st_ctime_ns)``, or absent. An event batch is bisync's own only when every path in it was
noted so, still has exactly that identity (any later write changes the ctime, whatever mtime
it sets; a replace changes the inode) and that is the version bisync's listing records
(size, mtime to the listing's precision), or is absent from both. Anything else runs bisync:
an own write taken for a user's costs one run that changes nothing; the reverse would lose
the write. (Stat()ing after the run instead left the engine's after-run work, the lease's
release included, as a window in which a write was recorded as the run's.) Left open: a
write between rclone's copy of a file and the daemon's reading of that log line (its pipe,
milliseconds) that keeps the size and sets the mtime to within 1 µs of the copy's.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from loguru import logger

from watcher.config import Config
from watcher.daemon.debounce import Pending
from watcher.engine import Session
from watcher.engine.bisync import read_listing
from watcher.engine.bisync_listing import listed_version
from watcher.plan import local_remote_dir, plan_cycle
from watcher.rclone.result import LogEvent
from watcher.rclone.runner import EventHook

#: A file exactly as stat() saw it: ``(st_ino, st_size, st_mtime_ns, st_ctime_ns)``.
FileId = tuple[int, int, int, int]


def file_id(path: Path) -> FileId | None:
    """``path``'s identity (``None`` when it does not exist); other errors raise ``OSError``."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _sides(
    cfg: Config, local: Collection[str], remote: Collection[str]
) -> list[tuple[int, Path, Collection[str]]]:
    """``(listing side, folder, paths)``: the sync root, and a local remote's folder."""
    sides: list[tuple[int, Path, Collection[str]]] = [(1, cfg.sync_root, local)]
    remote_dir = local_remote_dir(cfg)
    if remote_dir is not None:
        sides.append((2, remote_dir, remote))
    return sides


class OwnWrites:
    """What the daemon's running or last bisync run left at the paths it wrote, per side."""

    def __init__(self) -> None:
        #: ``{side: {path: identity}}`` of each path the run's rclone log lines named, taken
        #: the moment each line arrived (after that copy, delete or move).
        self.left: dict[int, dict[str, FileId | None]] = {}

    def hook(self, cfg: Config, forward: EventHook) -> EventHook:
        """A log hook for a run: ``forward`` each line, and note what the path it names (its
        copy, delete or move is done) is now on each side (a local remote's folder too)."""

        def on_event(event: LogEvent) -> None:
            forward(event)
            name = event.get("object")
            if cfg.mode == "bisync" and isinstance(name, str) and name and name[0] != "/":
                self._note(cfg, name)

        return on_event

    def _note(self, cfg: Config, rel: str) -> None:
        for side, folder, _paths in _sides(cfg, (), ()):
            seen = self.left.setdefault(side, {})
            try:
                seen[rel] = file_id(folder / rel)
            except OSError:  # unknown: an event there runs bisync
                seen.pop(rel, None)

    def started(self) -> None:
        """A run starts: what the last one left no longer tells its own writes."""
        self.left = {}

    def only(self, session: Session, work: Pending, remote: Collection[str]) -> bool:
        """True when ``work`` is bisync events only (no full cycle, trigger or move) and every
        changed path (``work.paths`` locally, ``remote`` on a local remote) is exactly what
        the last run left there: its own writes, so no run is needed."""
        if session.cfg.mode != "bisync" or work.full or work.urgent or work.moves:
            return False
        if not work.bisync or not self._unchanged(session, work.paths, remote):
            return False
        logger.debug("events were bisync's own writes: no run")
        return True

    def _unchanged(self, session: Session, local: Collection[str], remote: Collection[str]) -> bool:
        cfg = session.cfg
        step = plan_cycle(cfg)[0]
        for side, folder, changed in _sides(cfg, local, remote):
            if not changed:
                continue
            left = self.left.get(side, {})
            listing = read_listing(session.paths.bisync_workdir, step, cfg, side)
            for rel in changed:
                if rel not in left or not _same(folder / rel, left[rel], listing.get(rel)):
                    return False
        return True


def _same(path: Path, left: FileId | None, entry: tuple[int, float] | None) -> bool:
    """``path`` still is the file the run left (``left``), the version ``entry`` lists."""
    try:
        now = file_id(path)
    except OSError:
        return False
    if now != left:
        return False
    if now is None:
        return entry is None
    return listed_version(now[1], now[2], entry)


__all__ = ["FileId", "OwnWrites", "file_id"]
