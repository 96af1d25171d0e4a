"""watchdog observers on the watched roots, feeding classified changes to the event loop.

Each root is watched by inotify (watchdog's native observer) or, once inotify's limits were
hit for it, by watchdog's polling observer. Every scheduled root remembers the folder it
watches (``st_dev``, ``st_ino``) so :mod:`watcher.daemon.liveness` can tell a replaced root."""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from watcher.daemon.events import Change, WatchRoot, classify
from watcher.daemon.inotify_limits import Inode
from watcher.daemon.polling import AdaptivePollingObserver

ChangeSink = Callable[[Change | None], None]
"""Receives each change (``None`` = events were lost: run a full cycle)."""

#: How often a polled root is scanned (seconds; longer for a tree whose scan is costly, see
#: :mod:`watcher.daemon.polling`).
POLL_INTERVAL = 1.0
#: Folders created under inotify roots remembered for the limit check; more: check them all.
NEW_DIRS_MAX = 4096
#: At most this long (s) a re-watch waits for events an old watch of the same path queued.
QUEUE_SETTLE = 0.5
#: inotify errors that mean "a limit is reached": poll the root instead.
LIMIT_ERRORS = frozenset({errno.ENOSPC, errno.EMFILE})
_WATCHDOG_LOGGERS = ("watchdog.observers.inotify", "watchdog.observers.inotify_c")


def _text(path: bytes | str) -> str:
    return os.fsdecode(path)


def identity(path: str) -> Inode | None:
    """``(st_dev, st_ino)`` of the folder ``path`` (None when it is not a folder)."""
    try:
        st = os.stat(path)  # noqa: PTH116 - str paths from watchdog, many calls
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    return st.st_dev, st.st_ino


@dataclass(frozen=True)
class Scheduled:
    """One watched root: its watch, the folder it watches, and whether it is polled."""

    watch: ObservedWatch
    inode: Inode
    polled: bool


class _Handler(FileSystemEventHandler):
    def __init__(self, root: WatchRoot, inode: Inode, owner: Observers) -> None:
        self.root = root
        self.inode = inode
        self.owner = owner

    def dispatch(self, event: FileSystemEvent) -> None:
        """Never lets an exception reach watchdog's thread (it would kill the observer)."""
        try:
            self._dispatch(event)
        except Exception as exc:
            logger.warning("a file event could not be handled ({!r}): running a full cycle", exc)
            try:
                self.owner.sink(None)
            except Exception as again:
                logger.error("file events are lost: {!r}", again)

    def _dispatch(self, event: FileSystemEvent) -> None:
        src, dest = _text(event.src_path), _text(event.dest_path)
        if (
            event.is_directory
            and src == self.root.path
            and event.event_type in ("deleted", "moved")
        ):
            # The watched folder itself went away (deleted, moved, unmounted): its watch is
            # dead. Ask for a full (guarded) cycle; the liveness check watches it once it is back.
            self.owner.lost(self.root, self.inode)
            self.owner.sink(None)
            return
        if identity(self.root.path) != self.inode:
            return  # an event of a replaced root (e.g. renamed away): not a change of the path
        if event.is_directory and event.event_type in ("created", "moved"):
            self.owner.note_dir(self.root, dest or src)
        change = classify(self.root, event.event_type, src, dest, event.is_directory)
        if change is not None:
            self.owner.sink(change)


class _OverflowHandler(logging.Handler):
    """watchdog reports a kernel queue overflow only through its logger: events were lost."""

    def __init__(self, owner: Observers) -> None:
        super().__init__(logging.WARNING)
        self.owner = owner

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.owner.overflowed = True
            self.owner.sink(None)


class Observers:
    """Recursive observers on the roots that exist; :meth:`refresh` adds roots created later."""

    def __init__(self, roots: list[WatchRoot], sink: ChangeSink) -> None:
        self.roots = roots
        self.sink = sink
        self.observer: BaseObserver = Observer()
        self.poller: BaseObserver | None = None
        self.scheduled: dict[str, Scheduled] = {}
        #: Roots watched by polling because an inotify limit was hit for them.
        self.polled: set[str] = set()
        #: Folders created below inotify roots since the last limit check (root path → dirs).
        self.new_dirs: dict[str, set[str]] = {}
        #: Check every folder of every inotify root at the next liveness check.
        self.recheck = True
        #: The kernel's event queue overflowed: the liveness check polls the inotify roots.
        self.overflowed = False
        #: Called with (root, error) when an inotify limit stops a root from being watched.
        self.on_limit: Callable[[WatchRoot, OSError], None] = lambda root, exc: None
        #: Roots that went away: the liveness check logs their return.
        self.gone: set[str] = set()
        #: (root, errno) already warned about as not watchable.
        self.refused: set[tuple[str, int | None]] = set()
        self.lock = threading.RLock()
        #: True between start() and stop(): only then can a thread be dead.
        self.running = False
        self.overflow = _OverflowHandler(self)

    @property
    def inotify(self) -> bool:
        """True when the native observer is inotify's (Linux): the limit check applies."""
        return type(self.observer).__module__.endswith(".inotify")

    def reports_closes(self, change: Change | None) -> bool:
        """True when ``change`` comes from a root inotify watches (not polled), whose events
        include a writer's close (IN_CLOSE_WRITE): the closed-file path applies to it."""
        return change is not None and self.inotify and change.root.path not in self.polled

    def start(self) -> None:
        """Start watching (roots that do not exist yet are picked up by :meth:`refresh`)."""
        for name in _WATCHDOG_LOGGERS:
            logging.getLogger(name).addHandler(self.overflow)
        self.running = True
        self.observer.start()
        self.refresh()

    def refresh(self) -> list[WatchRoot]:
        """Schedule every root that now exists; returns the ones newly scheduled."""
        added = []
        with self.lock:
            for root in self.roots:
                inode = identity(root.path)
                if root.path in self.scheduled or inode is None:
                    continue
                if self._schedule(root, inode):
                    added.append(root)
        return added

    def _schedule(self, root: WatchRoot, inode: Inode) -> bool:
        """Watch ``root``; False when it cannot be watched now (it vanished since it was
        checked, or the kernel refused): it stays deaf and the next check tries again."""
        handler = _Handler(root, inode, self)
        try:
            if root.path not in self.polled:
                try:
                    watch = self.observer.schedule(handler, root.path, recursive=True)
                    self.scheduled[root.path] = Scheduled(watch, inode, polled=False)
                    self.recheck = True
                    return True
                except OSError as exc:
                    if exc.errno not in LIMIT_ERRORS:
                        raise
                    self.polled.add(root.path)
                    self.on_limit(root, exc)
            watch = self._poller().schedule(handler, root.path, recursive=True)
        except OSError as exc:
            self._unwatchable(root, exc)
            return False
        self.scheduled[root.path] = Scheduled(watch, inode, polled=True)
        return True

    def _unwatchable(self, root: WatchRoot, exc: OSError) -> None:
        """A root that could not be watched: gone again (a race with its removal) or refused
        (one warning per root and error): the liveness check retries it."""
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            self.gone.add(root.path)
            logger.debug("watched folder {} vanished before it was watched", root.path)
            return
        key = (root.path, exc.errno)
        if key not in self.refused:
            self.refused.add(key)
            logger.warning(
                "cannot watch {} ({}): its changes are not seen (status: deaf); retrying every "
                "few seconds",
                root.path,
                exc.strerror or exc,
            )

    def _poller(self) -> BaseObserver:
        if self.poller is None:
            self.poller = AdaptivePollingObserver(timeout=POLL_INTERVAL)
            self.poller.start()
        return self.poller

    def poll_instead(self, root: WatchRoot) -> None:
        """Watch ``root`` by polling from now on (inotify missed folders of it)."""
        with self.lock:
            self.polled.add(root.path)
            self.unschedule(root.path)
            self.refresh()

    def note_dir(self, root: WatchRoot, path: str) -> None:
        """Remember a folder created below an inotify root, for the limit check."""
        with self.lock:
            entry = self.scheduled.get(root.path)
            if entry is None or entry.polled:
                return
            dirs = self.new_dirs.setdefault(root.path, set())
            if len(dirs) >= NEW_DIRS_MAX:
                self.recheck = True
            else:
                dirs.add(path)

    def lost(self, root: WatchRoot, inode: Inode) -> None:
        """Forget the dead watch of a root that disappeared (called on watchdog's thread);
        a newer watch of the same path (another folder) is kept."""
        with self.lock:
            entry = self.scheduled.get(root.path)
            if entry is None or entry.inode != inode:
                return
            self.unschedule(root.path)
            self.gone.add(root.path)
        logger.warning("watched folder {} went away: watching it again once back", root.path)

    def unschedule(self, path: str) -> None:
        """Stop watching the root at ``path`` (its watch may be dead already)."""
        with self.lock:
            entry = self.scheduled.pop(path, None)
            self.new_dirs.pop(path, None)
        if entry is None:
            return
        observer = self.poller if entry.polled else self.observer
        if observer is not None:
            try:
                observer.unschedule(entry.watch)
            except (KeyError, OSError) as exc:
                logger.debug("unscheduling {}: {!r}", path, exc)

    def settle_queues(self) -> None:
        """Let the events that unscheduled watches already queued be dispatched (to no
        handler: they are dropped) before a watch of the same path is scheduled again.
        watchdog keys handlers by path, so a new watch of a replaced root would otherwise
        receive the old folder's queued events as its own."""
        deadline = time.monotonic() + QUEUE_SETTLE
        for observer in (self.observer, self.poller):
            if observer is None or not observer.is_alive():
                continue
            queue = observer.event_queue
            while queue.unfinished_tasks and time.monotonic() < deadline:
                time.sleep(0.002)

    def dead(self) -> list[str]:
        """The observer threads (or per-root emitter threads) that stopped unasked."""
        found: list[str] = []
        if not self.running:
            return found
        for name, observer in (("inotify", self.observer), ("polling", self.poller)):
            if observer is not None and not observer.is_alive():
                found.append(f"the {name} observer thread")
        with self.lock:
            scheduled = dict(self.scheduled)
        # list() copies each set at once: watchdog's thread may change it meanwhile
        found_emitters = [list(obs.emitters) for obs in (self.observer, self.poller) if obs]
        emitters = {e.watch: e for group in found_emitters for e in group}
        for path, entry in scheduled.items():
            emitter = emitters.get(entry.watch)
            if emitter is not None and not emitter.is_alive() and identity(path) == entry.inode:
                found.append(f"the watch thread of {path}")
        return found

    def state(self) -> dict[str, list[str]]:
        """``deaf``: roots no live observer watches; ``polled``: roots watched by polling."""
        dead = bool(self.dead())
        with self.lock:
            watched = set(self.scheduled)
        deaf = [r.path for r in self.roots if dead or r.path not in watched]
        return {"deaf": deaf, "polled": sorted(self.polled & watched)}

    def stop(self) -> None:
        """Stop the observer threads, then detach the overflow hook (which also keeps
        watchdog's shutdown chatter out of the log when the daemon switches configs)."""
        self.running = False
        for observer in (self.observer, self.poller):
            if observer is not None and observer.is_alive():
                observer.stop()
                observer.join(timeout=5)
        for name in _WATCHDOG_LOGGERS:
            logging.getLogger(name).removeHandler(self.overflow)
