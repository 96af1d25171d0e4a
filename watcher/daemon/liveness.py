"""The daemon's liveness check: every observer thread alive, every watched root still the same
folder (device + inode), every folder below an inotify root really watched (else inotify's
limit was hit: poll that root). Runs every :data:`INTERVAL` seconds and after every run, blocked
or not; whatever it repairs is logged and followed by a guarded full cycle."""

from __future__ import annotations

import time
from typing import Protocol

import anyio
from loguru import logger

from watcher.daemon.events import WatchRoot
from watcher.daemon.inotify_limits import (
    Inode,
    folders,
    limit_message,
    read_limit,
    read_queue_limit,
    unwatched,
    watched_inodes,
)
from watcher.daemon.observe import POLL_INTERVAL, Observers, identity
from watcher.daemon.reload import ConfigReloader
from watcher.errors import WorkspaceSyncError

#: Seconds between two checks (the contract: at least every 5 s).
INTERVAL = 2.0
#: More restarts than this within :data:`RESTART_WINDOW` seconds: exit, let the service
#: manager start a fresh process.
MAX_RESTARTS = 3
RESTART_WINDOW = 60.0


class ObserversFailed(WorkspaceSyncError):
    """The file observers died and could not be restarted: exit 1 so the service manager
    restarts the daemon."""


class Host(Protocol):
    """What the check needs of the daemon."""

    observers: Observers
    reloader: ConfigReloader

    def request(self, *, full: bool = False, drain: bool = False, urgent: bool = True) -> None:
        """Ask for work."""

    def repair_wakeup(self) -> None:
        """Wake the loop when changes wait (a lost wake-up)."""


class Liveness:
    """Checks and repairs the observers of ``host`` (see the module docstring)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.warned_limit = False
        self.restarts: list[float] = []
        #: Folders a full walk found unwatched, per root: checked again at the next check.
        self.suspects: dict[str, list[tuple[str, Inode]]] = {}

    def attach(self, observers: Observers) -> None:
        """Hook into a new generation's observers (before they start)."""
        observers.on_limit = self._limit_hit

    async def loop(self) -> None:
        """Check every :data:`INTERVAL` seconds until cancelled."""
        while True:
            await anyio.sleep(INTERVAL)
            self.check()

    def check(self) -> None:
        """One check; asks for a full cycle when anything was repaired. Raises
        :class:`ObserversFailed` when dead observers cannot be restarted."""
        self.host.repair_wakeup()
        self._config_watch()
        observers = self.host.observers
        dead = observers.dead()
        if dead:
            self._restart(observers, dead)
            return
        repaired = self._roots(observers)
        repaired |= self._limits(observers)
        if repaired:
            self.host.request(full=True)

    def _config_watch(self) -> None:
        """Restart the config file watch when its thread died (edits are still seen by the
        reloader's stat() poll meanwhile)."""
        watch = self.host.reloader.watch
        if watch.observer is not None and not watch.observer.is_alive():
            logger.warning("the config file watch thread stopped: restarting it")
            watch.stop()
            watch.start()

    def _restart(self, observers: Observers, dead: list[str]) -> None:
        logger.warning(
            "{} stopped: restarting the file observers and running a full cycle", ", ".join(dead)
        )
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW] + [now]
        if len(self.restarts) > MAX_RESTARTS:
            raise ObserversFailed(
                f"file observers keep dying ({len(self.restarts)} restarts within "
                f"{RESTART_WINDOW:g} s): exiting so the service manager starts a fresh daemon"
            )
        fresh = Observers(observers.roots, observers.sink)
        fresh.polled, fresh.gone = set(observers.polled), set(observers.gone)
        self.attach(fresh)
        observers.stop()
        try:
            fresh.start()
        except Exception as exc:
            fresh.stop()
            raise ObserversFailed(f"file observers cannot be restarted: {exc!r}") from exc
        self.host.observers = fresh
        self.host.request(full=True)

    def _roots(self, observers: Observers) -> bool:
        """Re-watch roots that were replaced or came back; True when any was."""
        repaired = False
        for path, entry in list(observers.scheduled.items()):
            now = identity(path)
            if now == entry.inode:
                continue
            observers.unschedule(path)
            if now is None:
                logger.warning("watched folder {} went away: watching it again once back", path)
                observers.gone.add(path)
            else:
                logger.warning(
                    "watched folder {} was replaced (removed and recreated, renamed, or "
                    "remounted): watching the new folder and running a full cycle",
                    path,
                )
            repaired = True
        if repaired:
            observers.settle_queues()
        for root in observers.refresh():
            if root.path in observers.gone:
                observers.gone.discard(root.path)
                logger.info("watched folder {} is back: watching it again", root.path)
            repaired = True
        return repaired

    def _limits(self, observers: Observers) -> bool:
        """Poll the inotify roots of which the kernel misses folders; True when any. A folder
        found unwatched by a full walk may be one watchdog is adding right now: it counts
        only when it is still unwatched at the next check."""
        with observers.lock:
            full, observers.recheck = observers.recheck, False
            new_dirs, observers.new_dirs = observers.new_dirs, {}
            overflowed, observers.overflowed = observers.overflowed, False
        if overflowed:
            return self._overflowed(observers)
        suspects, self.suspects = self.suspects, {}
        if not (full or new_dirs or suspects) or not observers.inotify:
            return False
        watched = watched_inodes()
        if watched is None:
            return False
        switched = False
        for root in observers.roots:
            entry = observers.scheduled.get(root.path)
            if entry is None or entry.polled or identity(root.path) != entry.inode:
                continue
            sure = [(d, i) for d in new_dirs.get(root.path, ()) if (i := identity(d)) is not None]
            sure += [(d, i) for d, i in suspects.get(root.path, []) if identity(d) == i]
            if full:
                self.suspects[root.path] = unwatched(folders(root.path), watched)
            if unwatched(sure, watched):
                self._limit_hit(root, None)
                observers.poll_instead(root)
                self.suspects.pop(root.path, None)
                switched = True
        return switched

    def _overflowed(self, observers: Observers) -> bool:
        """The event queue overflowed (events were lost): poll every inotify root."""
        queued = read_queue_limit()
        for root in observers.roots:
            entry = observers.scheduled.get(root.path)
            if entry is not None and not entry.polled:
                self._limit_hit(root, None, queued=queued)
                observers.poll_instead(root)
        return True

    def _limit_hit(
        self, root: WatchRoot, exc: OSError | None, *, queued: int | None = None
    ) -> None:
        """One warning for the first root that hits a limit; later ones at INFO."""
        if self.warned_limit:
            logger.info("also polling {} (inotify limits)", root.path)
            return
        self.warned_limit = True
        count = sum(1 for r in self.host.observers.roots for _ in folders(r.path))
        text = limit_message(read_limit(), count, root.path, POLL_INTERVAL, queued=queued)
        logger.warning("{}", text)
        if exc is not None:
            logger.debug("inotify: {!r}", exc)


__all__ = ["INTERVAL", "Liveness", "ObserversFailed"]
