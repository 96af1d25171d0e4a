"""The state folders: one per config file and one per *pair* (sync root + remote root, see
:mod:`watcher.plan.pair`) for what must be shared by every config of that pair (the run lock,
the daemon lock, the drain journal); atomic JSON files and last-run records."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from watcher.config import Config
from watcher.config.change import pairing_key
from watcher.config.load import APP_NAME
from watcher.fsutil import atomic_write
from watcher.plan import pair_identity


@dataclass(frozen=True)
class StatePaths:
    """Files and folders of one config's state and of its pair's (created 0700 by
    :meth:`create`). Without ``pair`` the pair's files live in ``root``."""

    root: Path
    #: The pair's state folder, shared by every config of the same sync root + remote root.
    pair: Path | None = None

    @property
    def pair_root(self) -> Path:
        """Where the shared files live: the pair folder (or ``root`` when there is none)."""
        return self.pair or self.root

    @property
    def rclone_conf(self) -> Path:
        return self.root / "rclone.conf"

    @property
    def fingerprint(self) -> Path:
        return self.root / "rclone.fingerprint.json"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def features(self) -> Path:
        """What the remote's backend supports (:mod:`watcher.rclone.features`)."""
        return self.root / "backend-features.json"

    @property
    def bisync_workdir(self) -> Path:
        return self.root / "bisync"

    @property
    def last_runs(self) -> Path:
        return self.root / "last-runs.json"

    @property
    def last_check(self) -> Path:
        """The outcome of the last ``workspace-sync check`` (see :mod:`watcher.engine.check`)."""
        return self.root / "last-check.json"

    @property
    def failing_paths(self) -> Path:
        """Paths that failed in consecutive runs (see :mod:`watcher.engine.failing`)."""
        return self.root / "failing-paths.json"

    @property
    def ingest_ledger(self) -> Path:
        return self.root / "ingest-ledger.json"

    @property
    def mirror_manifest(self) -> Path:
        return self.root / "mirror-manifest.json"

    @property
    def drain_journal(self) -> Path:
        """Shared by the pair: one journal for every drain of that remote ``_outbox``."""
        return self.pair_root / "drain-journal.json"

    @property
    def legacy_drain_journal(self) -> Path:
        """Where versions before the pair folder kept the journal (carried over by the drain)."""
        return self.root / "drain-journal.json"

    @property
    def mirror_backups(self) -> Path:
        return self.root / "mirror-backups"

    @property
    def run_lock(self) -> Path:
        """Shared by the pair: one rclone run at a time per sync root + remote root."""
        return self.pair_root / "run.lock"

    @property
    def daemon_lock(self) -> Path:
        """Shared by the pair: one daemon per sync root + remote root."""
        return self.pair_root / "daemon.lock"

    @property
    def daemon_state(self) -> Path:
        """Written by the running daemon for ``status`` (see docs/status.md)."""
        return self.root / "daemon.json"

    @property
    def pairing_confirmed(self) -> Path:
        """Written by a successful ``sync``: the pairing the user confirmed, and when."""
        return self.root / "pairing.json"

    @property
    def pairing_wait(self) -> Path:
        """Written by a daemon while a new pairing waits for confirmation (a restarted
        daemon goes on waiting)."""
        return self.root / "pairing-wait.json"

    def create(self) -> None:
        """Create the state folder and the pair folder (0700, ``pairs`` too) if needed."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.pair is not None:
            self.pair.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.pair.mkdir(exist_ok=True, mode=0o700)


def state_paths(cfg: Config) -> StatePaths:
    """The state folders of ``cfg``: ``<user state dir>/workspace-sync/<name>-<hash>``, one per
    config file (the hash of its absolute path keeps two configs apart), and
    ``<user state dir>/workspace-sync/pairs/<hash>``, one per sync root + remote root."""
    base = Path(platformdirs.user_state_dir(APP_NAME))
    digest = hashlib.sha256(str(cfg.config_path).encode()).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", cfg.config_path.parent.name or "root").strip("-")
    pair = base / "pairs" / pair_identity(cfg).key()
    return StatePaths(base / f"{stem or 'root'}-{digest}", pair)


def record_confirmation(paths: StatePaths, cfg: Config) -> None:
    """Note that the user ran ``sync`` with ``cfg``: a daemon waiting for this pairing to be
    confirmed (its config file was edited while it watched) may now run it."""
    write_json(paths.pairing_confirmed, {"pairing": pairing_key(cfg), "time": time.time()})


def pairing_confirmed(paths: StatePaths, cfg: Config, since: float) -> bool:
    """True when a ``sync`` of ``cfg``'s pairing succeeded at or after ``since`` (the time
    the config file was edited)."""
    data = read_json(paths.pairing_confirmed, None)
    if not isinstance(data, dict) or data.get("pairing") != pairing_key(cfg):
        return False
    stamp = data.get("time")
    return isinstance(stamp, (int, float)) and stamp >= since


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON atomically (see :func:`watcher.fsutil.atomic_write`)."""
    atomic_write(path, json.dumps(data, indent=1, sort_keys=True))


def read_json(path: Path, default: Any) -> Any:
    """Read a JSON state file; ``default`` when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


@dataclass
class RunRecord:
    """The outcome of one kind of run (push, pull, drain, ingest, bisync)."""

    kind: str
    ok: bool
    message: str
    started: float
    duration: float
    transferred: int = 0
    deleted: int = 0
    errors: int = 0
    fix: str | None = None
    dry_run: bool = False
    #: Files at the destination before the run, when the guard listed it.
    dest_files: int | None = None
    #: Files moved on the remote as part of folder renames (not counted as deletions).
    moved: int = 0
    #: Inbound files that were not taken because they are still being written (not settled).
    unsettled: int = 0
    #: Seconds after which those files may have settled: the daemon runs this step again then.
    recheck: float | None = None
    #: Failed only because stalled paths synced apart still fail (the main sync made it): the
    #: daemon does not back off for that (it retries them with the next run).
    stalled_only: bool = False
    #: The process that ran it (a blocked daemon sees the named fix succeed in another one).
    pid: int = field(default_factory=os.getpid)


def record_run(paths: StatePaths, record: RunRecord) -> None:
    """Store ``record`` as the last run of its kind."""
    runs = read_json(paths.last_runs, {})
    if not isinstance(runs, dict):
        runs = {}
    runs[record.kind] = asdict(record)
    write_json(paths.last_runs, runs)


#: The ``last-runs.json`` key of a cycle stopped before any step (the workspace checks).
CYCLE_RECORD = "cycle"


def forget_run(paths: StatePaths, kind: str) -> None:
    """Drop the last run of ``kind`` (no-op when there is none)."""
    runs = read_json(paths.last_runs, {})
    if isinstance(runs, dict) and kind in runs:
        del runs[kind]
        write_json(paths.last_runs, runs)


def last_runs(paths: StatePaths) -> dict[str, dict[str, Any]]:
    """The last run of each kind, as stored by :func:`record_run`."""
    runs = read_json(paths.last_runs, {})
    return runs if isinstance(runs, dict) else {}
