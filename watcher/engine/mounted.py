"""Does the workspace look unmounted? An empty (or missing) workspace folder of a config that
has synced before is a mount point without its file system: no run, drain or snapshot may
treat it as the user's files (light: imported by one-shot commands too)."""

from __future__ import annotations

from watcher.engine.session import Session
from watcher.engine.state import CYCLE_RECORD, last_runs
from watcher.plan import Step, plan_cycle


def looks_unmounted(session: Session, steps: tuple[Step, ...]) -> bool:
    """True when a step reads or writes the workspace, the workspace folder is empty and this
    config has run before: a mount point without its file system, which a push would take for
    "delete everything" and a drain or pull would fill with files hidden by the next mount."""
    workspace = session.cfg.workspace
    return (
        bool(steps)
        and workspace.is_dir()
        and not any(workspace.iterdir())
        and synced_before(session)
    )


def synced_before(session: Session) -> bool:
    """True when this config has run before (a record other than a stopped cycle's)."""
    return any(kind != CYCLE_RECORD for kind in last_runs(session.paths))


def workspace_gone(session: Session) -> str | None:
    """Why the workspace cannot be taken for the user's files ("<path> does not exist", "<path>
    is an empty folder although it synced before"), or ``None``."""
    workspace = session.cfg.workspace
    if not workspace.is_dir():
        return f"{workspace} does not exist"
    if looks_unmounted(session, plan_cycle(session.cfg)):
        return f"{workspace} is an empty folder although it synced before"
    return None


__all__ = ["looks_unmounted", "synced_before", "workspace_gone"]
