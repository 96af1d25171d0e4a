"""What the daemon watches for a config (pure reads of the file system; no runs); bisync's
own writes are told apart in :mod:`watcher.daemon.own_writes`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from loguru import logger

from watcher.config import Config
from watcher.daemon.events import WatchRoot
from watcher.engine import Session
from watcher.engine.mounted import looks_unmounted, sync_root_gone
from watcher.plan import CLAIMS, OUTBOX, local_remote_dir, plan_cycle, sync_filter
from watcher.plan.filters import PathFilter


def watch_roots(cfg: Config) -> list[WatchRoot]:
    """The folders to observe for ``cfg``'s mode (remote folders only for provider local)."""
    roots: list[WatchRoot] = []
    remote_dir = local_remote_dir(cfg)
    one_way = sync_filter(cfg)
    if cfg.mode in ("mailbox", "bisync"):
        roots.append(
            WatchRoot("sync", str(cfg.sync_root), sync_filter(cfg, for_bisync=cfg.mode == "bisync"))
        )
    if cfg.mode == "mirror" and cfg.ingest:
        roots.append(
            WatchRoot(
                "ingest", str(cfg.ingest_root), PathFilter.from_user(cfg.exclude, ("*.partial",))
            )
        )
    if remote_dir is not None:
        if cfg.mode == "mailbox":
            roots.append(
                WatchRoot(
                    "outbox",
                    str(remote_dir / OUTBOX),
                    PathFilter.from_user(cfg.exclude, ("*.partial", f"/{CLAIMS}/**", f"/{CLAIMS}")),
                )
            )
        elif cfg.mode == "mirror":
            roots.append(WatchRoot("remote", str(remote_dir), one_way))
        else:
            roots.append(WatchRoot("remote", str(remote_dir), sync_filter(cfg, for_bisync=True)))
    return roots


def prepare_local_roots(session: Session, roots: Iterable[WatchRoot]) -> None:
    """Create the local folders to watch (sync root, ingest folder) where that is safe: never
    in a missing workspace, nor in an empty one that has synced before (a mount point without
    its file system: a folder made there would hide that emptiness from the cycle's check,
    and the drain would fill the mount point with files hidden once it is mounted)."""
    cfg = session.cfg
    steps = plan_cycle(cfg)
    if not cfg.workspace.is_dir() or looks_unmounted(session, steps):
        return
    if sync_root_gone(session, steps):  # moved away after a pull wrote into it
        return
    for root in roots:
        if root.kind in ("sync", "ingest"):
            Path(root.path).mkdir(parents=True, exist_ok=True)


def warn_unwatched(cfg: Config) -> None:
    """Warn (once, at start) when remote changes of a mirror or bisync on a cloud remote
    would only be pulled at start and on ``trigger`` (``interval = 0``)."""
    if cfg.mode in ("mirror", "bisync") and local_remote_dir(cfg) is None and not cfg.interval:
        logger.warning(
            "{} on a cloud remote with interval = 0: remote changes are pulled only at start "
            "and on `{}`; set interval (e.g. 300) for periodic pulls",
            cfg.mode,
            cfg.command("workspace-sync trigger"),
        )
