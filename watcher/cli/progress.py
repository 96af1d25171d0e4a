"""The progress display of ``sync`` on a terminal (rich), driven by rclone's stats lines.

The engine knows nothing of it: the CLI passes :meth:`SyncProgress.on_event` down as
``run_cycle(on_event=...)``, and every rclone log line of the cycle reaches it. rich is
imported only when a display is made: every ``watch``, ``sync`` and ``status`` process imports
this module, and most of them (daemons, scripts, no terminal) draw nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID


def wants_progress(verbosity: int, log_json: bool = False) -> bool:
    """A progress display only for people: stderr (where it draws) and stdout are terminals,
    and neither ``-q`` nor ``--log-json`` asked for quiet or machine-readable output."""
    return verbosity >= 0 and not log_json and sys.stderr.isatty() and sys.stdout.isatty()


def _eta(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or seconds < 0:
        return "-:--:--"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class SyncProgress:
    """One bar for the bytes of the running rclone transfer, with files, rate and ETA."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
        )

        self.console = console or Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            DownloadColumn(),
            TextColumn("{task.fields[files]} files"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
            console=self.console,
            transient=False,
            refresh_per_second=4,
        )
        self.task: TaskID | None = None
        self.updates = 0

    def on_event(self, event: dict[str, Any]) -> None:
        """Fold one rclone log line into the display (only stats lines with work count)."""
        stats = event.get("stats")
        if not isinstance(stats, dict):
            return
        total_bytes = int(stats.get("totalBytes") or 0)
        total_files = int(stats.get("totalTransfers") or 0)
        if not total_bytes and not total_files:
            return  # a run with nothing to transfer (listing, empty drain): keep the last bar
        done = int(stats.get("bytes") or 0)
        speed = float(stats.get("speed") or 0)
        elapsed = float(stats.get("transferTime") or stats.get("elapsedTime") or 0)
        if speed <= 0 and elapsed > 0:  # rclone's final stats line reports speed 0
            speed = done / elapsed
        from rich.filesize import decimal

        files = f"{int(stats.get('transfers') or 0)}/{total_files}"
        rate, eta = f"{decimal(int(speed))}/s", _eta(stats.get("eta"))
        if self.task is None:
            self.task = self.progress.add_task(
                "sync", total=total_bytes or None, files=files, rate=rate, eta=eta
            )
        self.progress.update(
            self.task,
            total=total_bytes or None,
            completed=done,
            refresh=True,
            files=files,
            rate=rate,
            eta=eta,
        )
        self.updates += 1

    @contextmanager
    def shown(self) -> Iterator[SyncProgress]:
        """Draw the display while the block runs (log lines are printed above it)."""
        with self.progress:
            yield self
