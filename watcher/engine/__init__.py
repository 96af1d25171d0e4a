"""Runs cycles: applies the safety checks, runs the planned rclone operations, records state."""

from watcher.engine.cycle import CycleReport, run_cycle
from watcher.engine.lock import LockHeld
from watcher.engine.session import Session, open_session
from watcher.engine.state import RunRecord, StatePaths, last_runs, state_paths

__all__ = [
    "CycleReport",
    "LockHeld",
    "RunRecord",
    "Session",
    "StatePaths",
    "last_runs",
    "open_session",
    "run_cycle",
    "state_paths",
]
