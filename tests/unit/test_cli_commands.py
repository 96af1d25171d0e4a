"""The command group loads each subcommand from its module on first use."""

from __future__ import annotations

import subprocess
import sys

import click

from watcher.cli import cli
from watcher.cli.app import COMMAND_MODULES


def test_every_listed_command_resolves_to_itself() -> None:
    """Each name in COMMAND_MODULES is defined by that module under that name."""
    ctx = click.Context(cli)
    for name in COMMAND_MODULES:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        assert command.name == name
        assert sys.modules[COMMAND_MODULES[name]].__name__ == COMMAND_MODULES[name]
    assert cli.get_command(ctx, "no-such-command") is None


def test_no_command_is_left_out() -> None:
    """Importing every command module registers no command missing from COMMAND_MODULES."""
    for module in set(COMMAND_MODULES.values()):
        __import__(module)
    assert set(cli.commands) == set(COMMAND_MODULES)


def test_backup_does_not_import_the_daemon() -> None:
    """A one-shot command imports only what it needs (start-up time of every run)."""
    code = (
        "import sys, click; from watcher.cli import cli; "
        "cli.get_command(click.Context(cli), 'backup'); "
        "print(sorted(m for m in sys.modules if m.startswith(('watcher.daemon', 'watchdog', "
        "'rich', 'watcher.engine.cycle'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
