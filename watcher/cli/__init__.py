"""Command-line interface: ``workspace-sync`` / ``python -m watcher``."""

from watcher.cli import backup_cmds as _backup_cmds  # noqa: F401
from watcher.cli import commands as _commands  # noqa: F401  (registers the commands)
from watcher.cli import daemon_cmds as _daemon_cmds  # noqa: F401
from watcher.cli import service_cmds as _service_cmds  # noqa: F401
from watcher.cli import setup_cmds as _setup_cmds  # noqa: F401
from watcher.cli.app import cli


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="workspace-sync")


__all__ = ["cli", "main"]
