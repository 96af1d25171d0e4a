"""Command-line interface: ``workspace-sync`` / ``python -m watcher``.

Subcommands live in their own modules and are imported on first use (see
:data:`watcher.cli.app.COMMAND_MODULES`).
"""

from watcher.cli.app import cli


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="workspace-sync")


__all__ = ["cli", "main"]
