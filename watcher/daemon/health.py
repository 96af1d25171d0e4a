"""What the daemon publishes in ``daemon.json`` for the health states of ``status``: the
current run's progress (from rclone's per-second stats lines) and the stalled paths."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from watcher.engine.failing import stalled_paths
from watcher.engine.state import StatePaths
from watcher.rclone.result import LogEvent


@dataclass(frozen=True)
class Progress:
    """Files and bytes done of the total rclone expects, for the step running now."""

    step: str
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


def _count(stats: dict[str, Any], key: str) -> int:
    value = stats.get(key)
    return int(value) if isinstance(value, (int, float)) else 0


class RunProgress:
    """The progress of the daemon's current run (``None`` between runs)."""

    def __init__(self) -> None:
        self.current: Progress | None = None

    def on_event(self, event: LogEvent) -> None:
        """Take a stats line of the running cycle (the cycle tags it with its ``step``)."""
        stats = event.get("stats")
        if not isinstance(stats, dict):
            return
        self.current = Progress(
            step=str(event.get("step") or ""),
            files_done=_count(stats, "transfers"),
            files_total=_count(stats, "totalTransfers"),
            bytes_done=_count(stats, "bytes"),
            bytes_total=_count(stats, "totalBytes"),
        )

    def state(self, paths: StatePaths) -> dict[str, Any]:
        """The ``progress`` and ``stalled`` keys of ``daemon.json``."""
        current = self.current
        return {
            "progress": asdict(current) if current is not None else None,
            "stalled": stalled_paths(paths),
        }


__all__ = ["Progress", "RunProgress"]
