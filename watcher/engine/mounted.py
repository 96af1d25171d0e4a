"""Does the workspace look unmounted? An empty (or missing) workspace folder of a config that
has synced before is a mount point without its file system: no run, drain or snapshot may
treat it as the user's files (light: imported by one-shot commands too)."""

from __future__ import annotations

from watcher.engine.pulled import read_record
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


def sync_root_gone(session: Session, steps: tuple[Step, ...]) -> bool:
    """True when a step pulls into the sync root, the sync root — a folder below an existing
    workspace — does not exist, and the last pull wrote files into it: it was moved away or
    its volume is not mounted; a folder made there would take every file and keep the real
    one from coming back. A sync root that never held a pulled file (pulls of an empty
    remote) is made as before; a mailbox's drain still delivers into ``_inbox`` (its push is
    refused by the guard: inbound files are not held back, tests/integration/test_faults.py)."""
    cfg = session.cfg
    return (
        any(s.kind == "pull" for s in steps)
        and cfg.sync_root != cfg.workspace
        and cfg.workspace.is_dir()
        and not cfg.sync_root.is_dir()
        and synced_before(session)
        and bool(read_record(session.paths.mirror_manifest).files)
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


__all__ = ["looks_unmounted", "sync_root_gone", "synced_before", "workspace_gone"]
