"""``setup`` for provider ``custom``: the options of any rclone backend, asked one by one or
taken from ``--custom-option KEY=VALUE`` flags (secrets only from stdin or the environment)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import anyio
import click

from watcher.config.model import is_secret
from watcher.errors import UsageError
from watcher.rclone import Rclone, RcloneBinary, backend_options
from watcher.wizard import Plan


def _catalogue(binary: RcloneBinary, rclone_type: str) -> dict[str, bool]:
    """The options of backend ``rclone_type`` (name → stored obscured); exit 2 when unknown."""
    with tempfile.TemporaryDirectory(prefix="workspace-sync-") as tmp:
        rc = Rclone(binary, Path(tmp) / "rclone.conf", Path(tmp) / "cache", timeout=60)
        return anyio.run(backend_options, rc, rclone_type)
    raise AssertionError("unreachable")


def custom_interactive(binary: RcloneBinary, plan: Plan) -> None:
    """Ask for the backend's options by name until an empty answer (secrets hidden)."""
    rclone_type = plan.tables["custom"]["rclone_type"]
    options = _catalogue(binary, rclone_type)
    click.echo(f"Options of rclone backend {rclone_type!r}: " + ", ".join(sorted(options)))
    while True:
        name = click.prompt(
            "rclone option name (empty to finish)", default="", show_default=False
        ).strip()
        if not name:
            return
        if name not in options:
            click.echo(f"Error: {rclone_type!r} has no option {name!r}.", err=True)
            continue
        secret = options[name] or is_secret("custom", name)
        value = click.prompt(
            f"{name} (hidden)" if secret else name, hide_input=secret, type=str
        ).strip()
        plan.put("custom", name, value, secret=secret)


def custom_flags(
    binary: RcloneBinary, plan: Plan, items: tuple[str, ...], stdin_secrets: dict[str, str]
) -> None:
    """The backend's options from ``--custom-option`` flags; secret ones only from stdin
    (``custom.NAME=...``) or ``$WORKSPACE_SYNC_CUSTOM_NAME``, never a flag (exit 2)."""
    rclone_type = plan.tables["custom"]["rclone_type"]
    options = _catalogue(binary, rclone_type)
    known = ", ".join(sorted(options))
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--custom-option {name or item!r}: expected KEY=VALUE")
        if name not in options:
            raise UsageError(
                f"--custom-option {name}: not an option of {rclone_type!r}; its options: {known}"
            )
        if options[name] or is_secret("custom", name):
            raise UsageError(
                f"--custom-option {name}: a secret is never taken as a flag value; give it on "
                f"stdin (--secrets-stdin, line custom.{name}=...) or in "
                f"$WORKSPACE_SYNC_CUSTOM_{name.upper()}"
            )
        plan.put("custom", name, value)
    for name, secret in options.items():
        value = stdin_secrets.get(f"custom.{name}") or os.environ.get(
            f"WORKSPACE_SYNC_CUSTOM_{name.upper()}", ""
        )
        if value:
            plan.put("custom", name, value, secret=secret or is_secret("custom", name))
