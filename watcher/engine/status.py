"""Gather the health picture that ``status`` prints (secrets redacted)."""

from __future__ import annotations

import time
from typing import Any

from watcher.config import Config, is_secret
from watcher.engine.bisync import baseline_present
from watcher.engine.lock import lock_holder
from watcher.engine.session import Session
from watcher.engine.state import last_runs
from watcher.plan import plan_cycle, remote_root

REACH_TIMEOUT = 15.0
REDACTED = "***"


def redacted_options(cfg: Config) -> dict[str, Any]:
    """The provider table with every secret replaced by ``***``."""
    out: dict[str, Any] = {}
    for key, value in cfg.provider_options.items():
        if key == "rclone_options":
            out[key] = {k: (REDACTED if is_secret("custom", k) else v) for k, v in value.items()}
        else:
            out[key] = REDACTED if is_secret(cfg.provider, key) else str(value)
    return out


async def remote_reachable(session: Session) -> dict[str, Any]:
    """List the remote root's top level with a short timeout."""
    root = remote_root(session.cfg)
    result = await session.rc.run(
        ["lsjson", "--max-depth", "1", root], per_file=False, timeout=REACH_TIMEOUT
    )
    if result.ok:
        return {"reachable": True, "message": "ok"}
    if result.exit_code == 3 and not result.timed_out:
        return {"reachable": True, "message": f"{root} does not exist yet"}
    return {"reachable": False, "message": result.message()}


async def gather_status(session: Session, *, check_remote: bool = True) -> dict[str, Any]:
    """Everything ``status`` shows, as JSON-ready data."""
    cfg, paths = session.cfg, session.paths
    now = time.time()
    runs = last_runs(paths)
    for run in runs.values():
        run["age"] = round(now - float(run.get("started", now)) - float(run.get("duration", 0)), 1)
    data: dict[str, Any] = {
        "config": str(cfg.config_path),
        "mode": cfg.mode,
        "provider": cfg.provider,
        "provider_options": redacted_options(cfg),
        "workspace": str(cfg.workspace),
        "sync_root": str(cfg.sync_root),
        "remote_root": remote_root(cfg),
        "state_dir": str(paths.root),
        "rclone": {
            "path": str(session.binary.path),
            "origin": session.binary.origin,
            "version": session.binary.version_text,
        },
        "daemon": {"running": False, "pid": None},
        "last_runs": runs,
    }
    pid = lock_holder(paths.daemon_lock)
    if pid is not None:
        data["daemon"] = {"running": True, "pid": pid}
    if cfg.mode == "bisync":
        step = plan_cycle(cfg)[0]
        data["bisync_baseline"] = baseline_present(paths.bisync_workdir, step)
    if check_remote:
        data["remote"] = await remote_reachable(session)
    return data
