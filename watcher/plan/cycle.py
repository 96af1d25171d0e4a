"""Which rclone operations one cycle of a mode runs, with which filters and flags (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from watcher.config import Config
from watcher.plan.filters import PathFilter
from watcher.plan.resync import effective_resolve, resync_mode_flags

Direction = Literal["push", "pull"]
StepKind = Literal["push", "pull", "drain", "ingest", "bisync"]

INBOX = "_inbox"
OUTBOX = "_outbox"
#: Folder inside ``_outbox`` where the drain claims files before copying them (one subfolder
#: per drain run); senders never write there.
CLAIMS = ".workspace-sync-claim"
#: Folders the mailbox owns inside the sync root and the remote root; one-way syncs skip them.
MAILBOX_EXCLUDES = (f"/{INBOX}/**", f"/{OUTBOX}/**")
#: Names rclone uses for transfers in flight; never synced as files.
PARTIAL_EXCLUDES = ("*.partial",)
#: Folder in the remote root holding the cross-machine bisync lease
#: (:mod:`watcher.engine.bisync_lease`); bisync never syncs it.
LEASE_DIR = ".workspace-sync-lease"
CONFLICT_RESOLVE = {"newer": "newer", "local": "path1", "remote": "path2"}


@dataclass(frozen=True)
class Step:
    """One operation of a cycle.

    ``src``/``dst`` are rclone paths (a local absolute path or ``remote:path``). ``deletes`` marks
    one-way syncs that delete at the destination, which the engine guards before running.
    """

    kind: StepKind
    src: str
    dst: str
    filter: PathFilter
    flags: tuple[str, ...] = ()
    deletes: bool = False

    def describe(self) -> str:
        """A short human description, e.g. ``push /ws/shared -> cloud:share``."""
        return f"{self.kind} {self.src} -> {self.dst}"


def remote_root(cfg: Config, path: str | None = None) -> str:
    """The remote side of the sync, ``remote_name:path``; S3 puts the bucket first and the
    ``local`` provider the absolute folder that stands in for the cloud. ``path`` replaces
    ``cfg.remote_path`` (e.g. ``backup.remote_path``: another folder on the same remote)."""
    folder = cfg.remote_path if path is None else path
    parts: list[str] = []
    if cfg.provider == "s3":
        parts.append(str(cfg.provider_options["bucket"]))
    elif cfg.provider == "local":
        parts.append(str(cfg.provider_options["path"]).rstrip("/") or "/")
    if folder:
        parts.append(folder)
    path = "/".join(parts)
    if cfg.provider == "local" and path.startswith("//"):
        path = path[1:]
    return f"{cfg.remote_name}:{path}"


def remote_join(root: str, rel: str) -> str:
    """Join a relative POSIX path onto an rclone path."""
    if not rel:
        return root
    sep = "" if root.endswith((":", "/")) else "/"
    return f"{root}{sep}{rel}"


def local_remote_dir(cfg: Config) -> Path | None:
    """For provider ``local``, the folder on this machine that holds the remote root."""
    if cfg.provider != "local":
        return None
    base = Path(str(cfg.provider_options["path"]))
    return base / cfg.remote_path if cfg.remote_path else base


def sync_filter(cfg: Config, *, for_bisync: bool = False) -> PathFilter:
    """The filter of the mode's sync between sync root and remote root."""
    extra: list[str] = list(PARTIAL_EXCLUDES)
    if not for_bisync and cfg.mode in ("mailbox", "mirror"):
        extra += MAILBOX_EXCLUDES
    # bisync's lease folder is the tool's bookkeeping in every mode: a mailbox push or a
    # mirror pull over a remote a bisync machine shares neither deletes nor copies it (the
    # folder too: its events)
    extra += [f"/{LEASE_DIR}/**", f"/{LEASE_DIR}"]
    ingest_rel = cfg.ingest_in_sync_root
    if ingest_rel is not None:
        extra.append(f"/{ingest_rel}/**" if ingest_rel else "**")
    return PathFilter.from_user(cfg.exclude, extra)


def plan_cycle(
    cfg: Config,
    *,
    direction: Direction | None = None,
    resync: bool = False,
    remote_modtime: bool = True,
) -> tuple[Step, ...]:
    """The steps of one cycle of ``cfg.mode`` (or one one-way run when ``direction`` is given).

    - mailbox: push the sync root, then drain the remote ``_outbox`` into ``_inbox``;
    - mirror: ingest (when enabled) then pull;
    - bisync: one bisync run (``resync`` adds ``--resync``; ``remote_modtime=False``, a remote
      that keeps no modification times, turns ``conflict_resolve = newer`` into local).
    """
    local = str(cfg.sync_root)
    remote = remote_root(cfg)
    one_way = sync_filter(cfg)
    push = Step("push", local, remote, one_way, deletes=True)
    pull = Step("pull", remote, local, one_way, deletes=True)
    if direction == "push":
        return (push,)
    if direction == "pull":
        return (pull,)
    if cfg.mode == "mailbox":
        drain = Step(
            "drain",
            remote_join(remote, OUTBOX),
            str(cfg.sync_root / INBOX),
            PathFilter.from_user(cfg.exclude, PARTIAL_EXCLUDES),
        )
        return (push, drain)
    if cfg.mode == "mirror":
        return (*_ingest(cfg, remote), pull)
    return (
        Step(
            "bisync",
            local,
            remote,
            sync_filter(cfg, for_bisync=True),
            flags=bisync_flags(cfg, resync=resync, remote_modtime=remote_modtime),
        ),
    )


def _ingest(cfg: Config, remote: str) -> tuple[Step, ...]:
    """Mirror's ingest step (local ingest folder → remote ``_outbox``), when enabled."""
    if not cfg.ingest:
        return ()
    inbound = PathFilter.from_user(cfg.exclude, PARTIAL_EXCLUDES)
    return (Step("ingest", str(cfg.ingest_root), remote_join(remote, OUTBOX), inbound),)


def bisync_flags(cfg: Config, *, resync: bool, remote_modtime: bool = True) -> tuple[str, ...]:
    """The fixed bisync flags of the spec (the engine adds ``--workdir``); a resync prefers
    the version ``conflict_resolve`` would keep (``--resync-mode``)."""
    resolve = effective_resolve(cfg.conflict_resolve, remote_modtime=remote_modtime)
    flags = [
        "--conflict-resolve",
        CONFLICT_RESOLVE[resolve],
        "--conflict-loser",
        "num",
        "--conflict-suffix",
        "conflict",
        "--max-lock",
        "15m",
        "--resilient",
        "--recover",
    ]
    if resync:
        flags += [*resync_mode_flags(cfg, remote_modtime=remote_modtime), "--resync"]
    return tuple(flags)
