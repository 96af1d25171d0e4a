"""Changes from watchdog's threads to the daemon's event loop.

The wake-up uses the running asyncio loop's ``call_soon_threadsafe`` (any anyio 4.x on its
default asyncio backend), not ``anyio.from_thread.run_sync(..., token=...)``, which needs anyio
4.11: on anyio 4.10 it raised ``TypeError`` on watchdog's thread and killed the observer."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable

from loguru import logger

from watcher.daemon.events import Change


class Intake:
    """A queue of changes (``None`` = events were lost) filled on any thread, drained by the
    loop; the first change after a drain wakes the loop through ``wake``."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self.wake = wake
        self.changes: deque[Change | None] = deque()
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        """Remember the running event loop (call from inside it)."""
        self.loop = asyncio.get_running_loop()

    def unbind(self) -> None:
        """Stop waking the loop (it is closing)."""
        self.loop = None

    def put(self, change: Change | None) -> None:
        """Queue ``change`` (called on watchdog's threads; never raises)."""
        with self.lock:
            self.changes.append(change)
            first = len(self.changes) == 1
        loop = self.loop
        if first and loop is not None:
            try:
                loop.call_soon_threadsafe(self.wake)
            except RuntimeError:  # the loop closed during shutdown
                pass
            except Exception as exc:  # the liveness check wakes the loop later
                logger.warning("could not wake the daemon loop for a file event: {}", exc)

    def take(self) -> list[Change | None]:
        """Every queued change, oldest first; the queue is empty afterwards."""
        with self.lock:
            changes = list(self.changes)
            self.changes.clear()
        return changes

    def waiting(self) -> bool:
        """True when changes wait to be taken (a lost wake-up is repaired by the caller)."""
        with self.lock:
            return bool(self.changes)


__all__ = ["Intake"]
