"""A new pairing that waits for the user's confirmation, kept in the state dir so that a
daemon stopped while it waits (``systemctl restart``, kill -9, a reboot) does not start the
unconfirmed pairing when it comes back: the next daemon waits for the same confirmation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from watcher.engine.state import StatePaths, read_json, write_json


@dataclass(frozen=True)
class WaitRecord:
    """The pairing the daemon ran (``running``, a :func:`~watcher.config.change.pairing_key`),
    the one that waits (``pending``), the keys that changed, and since when (wall time) a
    ``sync`` counts as its confirmation."""

    running: str
    pending: str
    changed: tuple[str, ...]
    since: float


def save_wait(paths: StatePaths, record: WaitRecord) -> None:
    """Remember ``record`` (a daemon restarted later keeps waiting)."""
    data = {
        "running": record.running,
        "pending": record.pending,
        "changed": list(record.changed),
        "since": record.since,
    }
    with contextlib.suppress(OSError):  # the running daemon waits anyway
        paths.create()
        write_json(paths.pairing_wait, data)


def load_wait(paths: StatePaths) -> WaitRecord | None:
    """The record left by an earlier daemon, or ``None`` (none, or unreadable)."""
    data = read_json(paths.pairing_wait, None)
    if not isinstance(data, dict):
        return None
    running, pending, since = data.get("running"), data.get("pending"), data.get("since")
    changed = data.get("changed")
    if not (isinstance(running, str) and isinstance(pending, str)):
        return None
    if not isinstance(since, (int, float)) or not isinstance(changed, list):
        return None
    return WaitRecord(running, pending, tuple(str(c) for c in changed), float(since))


def clear_wait(paths: StatePaths) -> None:
    """Nothing waits any more (confirmed, undone, or replaced by a live edit)."""
    with contextlib.suppress(OSError):
        paths.pairing_wait.unlink(missing_ok=True)
