"""watchdog observers on the watched roots, feeding classified changes to the event loop."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from watcher.daemon.events import Change, WatchRoot, classify

ChangeSink = Callable[[Change | None], None]
"""Receives each change (``None`` = events were lost: run a full cycle)."""


def _text(path: bytes | str) -> str:
    return path.decode() if isinstance(path, bytes) else path


class _Handler(FileSystemEventHandler):
    def __init__(
        self, root: WatchRoot, sink: ChangeSink, lost: Callable[[WatchRoot], None]
    ) -> None:
        self.root = root
        self.sink = sink
        self.lost = lost

    def dispatch(self, event: FileSystemEvent) -> None:
        if (
            event.is_directory
            and _text(event.src_path) == self.root.path
            and (event.event_type in ("deleted", "moved"))
        ):
            # The watched folder itself went away (deleted, moved, unmounted): its watch is
            # dead. Ask for a full (guarded) cycle; refresh() watches it again once it is back.
            self.lost(self.root)
            self.sink(None)
            return
        change = classify(
            self.root,
            event.event_type,
            _text(event.src_path),
            _text(event.dest_path),
            event.is_directory,
        )
        if change is not None:
            self.sink(change)


class _OverflowHandler(logging.Handler):
    """watchdog reports a kernel queue overflow only through its logger: events were lost."""

    def __init__(self, sink: ChangeSink) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.sink(None)


class Observers:
    """Recursive observers on the roots that exist; :meth:`refresh` adds roots created later."""

    def __init__(self, roots: list[WatchRoot], sink: ChangeSink) -> None:
        self.roots = roots
        self.sink = sink
        self.observer: BaseObserver = Observer()
        self.scheduled: dict[str, ObservedWatch] = {}
        self.lock = threading.Lock()
        self.overflow = _OverflowHandler(sink)

    def start(self) -> None:
        """Start watching (roots that do not exist yet are picked up by :meth:`refresh`)."""
        for name in ("watchdog.observers.inotify", "watchdog.observers.inotify_c"):
            logging.getLogger(name).addHandler(self.overflow)
        self.refresh()
        self.observer.start()

    def refresh(self) -> list[WatchRoot]:
        """Schedule every root that now exists; returns the ones newly scheduled."""
        added = []
        with self.lock:
            for root in self.roots:
                if root.path not in self.scheduled and Path(root.path).is_dir():
                    handler = _Handler(root, self.sink, self._lost)
                    watch = self.observer.schedule(handler, root.path, recursive=True)
                    self.scheduled[root.path] = watch
                    added.append(root)
        return added

    def _lost(self, root: WatchRoot) -> None:
        """Forget the dead watch of a root that disappeared (called on watchdog's thread)."""
        with self.lock:
            watch = self.scheduled.pop(root.path, None)
        if watch is not None:
            with contextlib.suppress(KeyError, OSError):
                self.observer.unschedule(watch)

    def stop(self) -> None:
        """Stop the observer thread, then detach the overflow hook (which also keeps watchdog's
        shutdown chatter out of the log when the daemon switches configs)."""
        self.observer.stop()
        self.observer.join(timeout=5)
        for name in ("watchdog.observers.inotify", "watchdog.observers.inotify_c"):
            logging.getLogger(name).removeHandler(self.overflow)
