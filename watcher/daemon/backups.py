"""The daemon's snapshot schedule: every ``backup.interval`` seconds a snapshot, then a prune."""

from __future__ import annotations

import time

import anyio
from loguru import logger

from watcher.engine import Session
from watcher.engine.backup import take_snapshot
from watcher.engine.backup_prune import prune_snapshots
from watcher.engine.state import last_runs

#: Seconds after start-up before the first snapshot of a config that never took one (lets the
#: initial full cycle go first).
BACKUP_FIRST_DELAY = 30.0


class BackupTimer:
    """Takes snapshots for one daemon, taking turns with its sync runs (``run_guard``)."""

    def __init__(self, session: Session, run_guard: anyio.Lock) -> None:
        self.session = session
        self.run_guard = run_guard
        self.last_attempt: float | None = None

    def due(self, first: float) -> float:
        """Wall-clock time of the next snapshot: an interval after the last attempt (recorded
        in the state dir, so a restart does not snapshot again at once), or ``first`` when this
        config never took one."""
        record = last_runs(self.session.paths).get("backup", {})
        started = record.get("started") if isinstance(record, dict) else None
        attempts = [t for t in (started, self.last_attempt) if isinstance(t, (int, float))]
        if not attempts:
            return first
        return float(max(attempts)) + self.session.cfg.backup.interval

    async def run(self) -> None:
        """Every ``backup.interval`` seconds: a snapshot, then a prune; never concurrent with
        a sync run, failures logged and retried at the next interval, never fatal."""
        first = time.time() + min(float(self.session.cfg.backup.interval), BACKUP_FIRST_DELAY)
        while True:
            await anyio.sleep(max(1.0, self.due(first) - time.time()))
            if time.time() < self.due(first):
                continue  # a snapshot by `workspace-sync backup` moved the schedule
            async with self.run_guard:
                self.last_attempt = time.time()
                await self._once()

    async def _once(self) -> None:
        session, wait = self.session, float(self.session.cfg.timeout)
        try:
            await take_snapshot(session, lock_wait=wait)
            await prune_snapshots(session, lock_wait=wait)
        except Exception as exc:  # a failing backup must never stop the daemon
            logger.error(
                "backup failed: {}; next attempt in {} s", exc, self.session.cfg.backup.interval
            )
