"""Runs cycles: applies the safety checks, runs the planned rclone operations, records state.

The names below are imported on first use (PEP 562), so that a command which needs one part of
the engine (``backup``, ``status``) does not pay for importing all of it at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watcher.engine.cycle import CycleReport, run_cycle
    from watcher.engine.lock import LockHeld
    from watcher.engine.session import Session, open_session
    from watcher.engine.state import RunRecord, StatePaths, last_runs, state_paths

_WHERE = {
    "CycleReport": "cycle",
    "run_cycle": "cycle",
    "LockHeld": "lock",
    "Session": "session",
    "open_session": "session",
    "RunRecord": "state",
    "StatePaths": "state",
    "last_runs": "state",
    "state_paths": "state",
}

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


def __getattr__(name: str) -> Any:
    """Import ``name`` from its module on first access."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
