"""Polling of a root that inotify cannot watch (its limits were reached): watchdog's polling
emitter, with an interval that grows with the cost of a scan, so that a huge polled tree does
not keep a core busy (20,000 files scanned every second took 28 % of a core)."""

from __future__ import annotations

import time

from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingEmitter

#: The share of one core that scanning a polled root may take, at most.
SCAN_SHARE = 0.05
#: The longest wait between two scans (seconds): the worst-case delay of a change.
POLL_MAX = 30.0


def poll_wait(base: float, cost: float) -> float:
    """Seconds to wait before the next scan: ``base``, or longer when a scan takes ``cost``
    seconds, so that scanning stays under :data:`SCAN_SHARE` of a core (at most
    :data:`POLL_MAX`)."""
    return min(POLL_MAX, max(base, cost / SCAN_SHARE - cost))


class AdaptivePollingEmitter(PollingEmitter):
    """A polling emitter that measures each scan and waits :func:`poll_wait` before the next."""

    cost = 0.0

    def queue_events(self, timeout: float) -> None:
        """Wait, scan the root, and queue the events of what changed (see watchdog)."""
        wait = poll_wait(timeout, self.cost)
        started = time.monotonic()
        super().queue_events(wait)
        self.cost = max(0.0, time.monotonic() - started - wait)


class AdaptivePollingObserver(BaseObserver):
    """watchdog's ``PollingObserver`` with :class:`AdaptivePollingEmitter`."""

    def __init__(self, *, timeout: float) -> None:
        super().__init__(AdaptivePollingEmitter, timeout=timeout)
