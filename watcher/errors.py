"""Exceptions shared by every layer, each tied to the exit code the CLI returns for it."""

from __future__ import annotations


class WorkspaceSyncError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(WorkspaceSyncError):
    """Bad input: unreadable or invalid ``sync.toml``, a missing or too old rclone (exit 2).

    Raised before anything is touched.
    """

    exit_code = 2


class UsageError(ConfigError):
    """A command-line argument that cannot be honoured (exit 2)."""


class SyncFailed(WorkspaceSyncError):
    """A run started and failed: rclone error, timeout, safety refusal (exit 1)."""

    exit_code = 1


class SafetyRefusal(SyncFailed):
    """The tool refused a run that could lose data; ``fix`` is the command that overrides it."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


class CommandFailed(WorkspaceSyncError):
    """A command could not do what it was asked (exit 1 unless ``exit_code`` says otherwise),
    with one line saying why and what was left as it was."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
