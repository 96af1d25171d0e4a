"""The watch daemon: observers, debouncer and scheduler."""

from watcher.daemon.daemon import Daemon, DaemonStats, watch_roots
from watcher.daemon.debounce import Pending, backoff_delay, wait_time
from watcher.daemon.events import Change, WatchRoot, classify

__all__ = [
    "Change",
    "Daemon",
    "DaemonStats",
    "Pending",
    "WatchRoot",
    "backoff_delay",
    "classify",
    "wait_time",
    "watch_roots",
]
