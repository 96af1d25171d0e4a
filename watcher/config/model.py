"""Frozen, typed configuration objects produced by :mod:`watcher.config.load`."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

Mode = Literal["mailbox", "mirror", "bisync"]
Provider = Literal["off", "local", "dropbox", "gdrive", "onedrive", "s3", "custom"]
ConflictResolve = Literal["newer", "local", "remote"]

MODES: tuple[Mode, ...] = ("mailbox", "mirror", "bisync")
PROVIDERS: tuple[Provider, ...] = ("off", "local", "dropbox", "gdrive", "onedrive", "s3", "custom")

MODES_EXPLAINED = (
    "mailbox (gateway side: the workspace is the source of truth, it is pushed to the cloud "
    "and files dropped in the cloud _outbox land in the local _inbox), mirror (user side: the "
    "cloud is pulled into a local copy; optional ingest folder uploads to the gateway's "
    "_outbox), bisync (both sides edit, changes flow both ways, conflicts keep both copies)"
)

#: Option names that hold secrets, per provider table; never printed, logged or put in argv.
SECRET_OPTIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "dropbox": frozenset({"app_secret", "token"}),
        "gdrive": frozenset({"token"}),
        "onedrive": frozenset({"token"}),
        "s3": frozenset({"access_key_id", "secret_access_key"}),
        "backup": frozenset({"password"}),
    }
)

#: Substrings that mark a ``[custom] rclone_options`` entry as secret.
SECRET_HINTS = ("pass", "secret", "token", "key", "credential")


def is_secret(table: str, option: str) -> bool:
    """True when ``option`` of ``[table]`` holds a secret and must be redacted."""
    if option in SECRET_OPTIONS.get(table, frozenset()):
        return True
    return table == "custom" and any(hint in option.lower() for hint in SECRET_HINTS)


@dataclass(frozen=True)
class BackupConfig:
    """The ``[backup]`` table: encrypted snapshots of the workspace."""

    enabled: bool = False
    password: str | None = field(default=None, repr=False)
    remote_path: str = "openclaw-backup"
    interval: int = 86400
    keep_last: int = 7
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6
    include: tuple[Path, ...] = ()


@dataclass(frozen=True)
class TransferConfig:
    """The ``[transfer]`` table: rclone's transfer knobs, given to every rclone call that
    reaches a remote (``None``: rclone's default)."""

    bwlimit: str | None = None
    tpslimit: float | None = None
    transfers: int | None = None
    checkers: int | None = None
    multi_thread_streams: int | None = None
    #: Further rclone flags, one ``--name`` or ``--name=value`` per entry (checked by
    #: :mod:`watcher.config.transfer`: nothing that changes what is deleted or where).
    extra_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    """A validated ``sync.toml``. Paths are absolute; ``local_path``/``ingest_path`` are relative
    POSIX paths inside ``workspace`` (``""`` is the workspace itself)."""

    config_path: Path
    workspace: Path
    mode: Mode
    provider: Provider = "off"
    remote_path: str = "openclaw-share"
    local_path: str = "shared"
    interval: int = 0
    debounce: float = 0.5
    max_delay: float = 10.0
    #: Seconds an inbound file must stay unchanged (size, mtime) before it is taken.
    outbox_settle: float = 2.0
    outbox_poll: int = 30
    timeout: int = 1800
    on_session_start: bool = False
    on_session_end: bool = False
    rclone: Path | None = None
    remote_name: str = "cloud"
    rclone_config: Path | None = None
    conflict_resolve: ConflictResolve = "newer"
    exclude: tuple[str, ...] = ("**/.DS_Store",)
    copy_symlinks: bool = False
    ingest: bool = False
    ingest_path: str = "inbox"
    max_delete: int = 50
    log_file: Path | None = None
    secrets_file: Path | None = None
    on_arrival: tuple[str, ...] | None = None
    backup: BackupConfig = BackupConfig()
    transfer: TransferConfig = TransferConfig()
    #: The selected provider's table, secrets from ``secrets_file`` merged in.
    provider_options: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False
    )
    #: True unless the file was found in the user config dir (named by ``--config`` or
    #: ``$WORKSPACE_SYNC_CONFIG``, or ``./sync.toml``): every printed fix then names it.
    config_named: bool = field(default=False, compare=False)

    def command(self, text: str) -> str:
        """``text`` (a ``workspace-sync`` command line to print as a fix) plus ``--config
        <absolute path>`` unless the config was found in the user config dir, so that it
        works pasted into a shell in any folder."""
        if not self.config_named or "--config" in text.split():
            return text
        return f"{text} --config {shlex.quote(str(self.config_path))}"

    @property
    def sync_root(self) -> Path:
        """The local folder that is synced: ``workspace/local_path``."""
        return self.workspace / self.local_path if self.local_path else self.workspace

    @property
    def ingest_root(self) -> Path:
        """The local ingest folder (mirror mode with ``ingest``)."""
        return self.workspace / self.ingest_path if self.ingest_path else self.workspace

    @property
    def ingest_in_sync_root(self) -> str | None:
        """The ingest folder relative to the sync root when it lies inside it, else ``None``."""
        if not self.ingest:
            return None
        try:
            rel = self.ingest_root.relative_to(self.sync_root)
        except ValueError:
            return None
        return rel.as_posix()
