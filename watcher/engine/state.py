"""The per-config state folder: where it lives, atomic JSON files, and last-run records."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import platformdirs

from watcher.config import Config
from watcher.fsutil import atomic_write

APP_NAME = "workspace-sync"


@dataclass(frozen=True)
class StatePaths:
    """Files and folders of one config's state (created 0700 by :meth:`create`)."""

    root: Path

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
    def bisync_workdir(self) -> Path:
        return self.root / "bisync"

    @property
    def last_runs(self) -> Path:
        return self.root / "last-runs.json"

    @property
    def ingest_ledger(self) -> Path:
        return self.root / "ingest-ledger.json"

    @property
    def mirror_manifest(self) -> Path:
        return self.root / "mirror-manifest.json"

    @property
    def drain_journal(self) -> Path:
        return self.root / "drain-journal.json"

    @property
    def mirror_backups(self) -> Path:
        return self.root / "mirror-backups"

    @property
    def run_lock(self) -> Path:
        return self.root / "run.lock"

    @property
    def daemon_lock(self) -> Path:
        return self.root / "daemon.lock"

    @property
    def daemon_state(self) -> Path:
        """Written by the running daemon for ``status`` (see docs/status.md)."""
        return self.root / "daemon.json"

    def create(self) -> None:
        """Create the state folder (0700) if needed."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)


def state_paths(cfg: Config) -> StatePaths:
    """The state folder of ``cfg``: ``<user state dir>/workspace-sync/<name>-<hash>``, one per
    config file (the hash of its absolute path keeps two configs apart)."""
    digest = hashlib.sha256(str(cfg.config_path).encode()).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", cfg.config_path.parent.name or "root").strip("-")
    return StatePaths(Path(platformdirs.user_state_dir(APP_NAME)) / f"{stem or 'root'}-{digest}")


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
    #: Inbound files that were not taken because they are still being written (not settled).
    unsettled: int = 0
    #: Seconds after which those files may have settled: the daemon runs this step again then.
    recheck: float | None = None


def record_run(paths: StatePaths, record: RunRecord) -> None:
    """Store ``record`` as the last run of its kind."""
    runs = read_json(paths.last_runs, {})
    if not isinstance(runs, dict):
        runs = {}
    runs[record.kind] = asdict(record)
    write_json(paths.last_runs, runs)


def last_runs(paths: StatePaths) -> dict[str, dict[str, Any]]:
    """The last run of each kind, as stored by :func:`record_run`."""
    runs = read_json(paths.last_runs, {})
    return runs if isinstance(runs, dict) else {}
