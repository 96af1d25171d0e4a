"""``service list``: every installed instance with its config, state and health."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import click

from watcher.cli.app import common_options, session_for
from watcher.cli.service_files import available_manager, installed, legacy, manager_state
from watcher.config import load_config
from watcher.engine.status import gather_status
from watcher.errors import WorkspaceSyncError
from watcher.service import LABEL, Manager
from watcher.systemd_unit import instance_unit


def native() -> Manager:
    """The manager of this platform: launchd on macOS, systemd elsewhere."""
    return "launchd" if sys.platform == "darwin" else "systemd"


def _health(config: Path | None) -> str:
    """The config's health as ``status`` reports it (offline), or why it cannot be read."""
    if config is None:
        return "unknown (no config recorded)"

    async def go() -> dict[str, Any]:
        session = await session_for(load_config(str(config)), ask_features=False)
        return await gather_status(session, check_remote=False)

    try:
        return str(anyio.run(go).get("health", "unknown"))
    except WorkspaceSyncError as exc:
        return f"unknown ({exc})"


def _rows(manager: Manager) -> list[dict[str, str]]:
    uid = os.getuid()
    here = available_manager() == manager
    rows = []
    for item in installed(manager, Path.home()):
        unit = _plan_unit(manager, item.instance)
        rows.append(
            {
                "instance": item.instance,
                "unit": unit,
                "config": str(item.config) if item.config else "",
                "state": manager_state(manager, unit, uid) if here else "unknown",
                "health": _health(item.config),
                "file": str(item.path),
            }
        )
    return rows


def _plan_unit(manager: Manager, instance: str) -> str:
    return instance_unit(instance) if manager == "systemd" else f"{LABEL}.{instance}"


@click.command(name="list")
@click.option(
    "--manager",
    type=click.Choice(["auto", "systemd", "launchd"]),
    default="auto",
    show_default=True,
    help="Service manager (auto: launchd on macOS, systemd elsewhere).",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@common_options
def service_list(manager: str, as_json: bool) -> None:
    """Every installed instance: its config, the service manager's state and the health."""
    chosen: Manager = (
        ("launchd" if manager == "launchd" else "systemd") if manager != "auto" else native()
    )
    rows = _rows(chosen)
    old, old_config, _stop = legacy(chosen, Path.home(), os.getuid())
    if as_json:
        legacy_row = {"file": str(old), "config": str(old_config or "")} if old.is_file() else None
        click.echo(json.dumps({"instances": rows, "legacy": legacy_row}, indent=2))
        return
    if not rows:
        click.echo(f"no workspace-sync services installed ({chosen})")
    for row in rows:
        click.echo(f"{row['unit']}\n  config: {row['config']}\n  state:  {row['state']}")
        click.echo(f"  health: {row['health']}")
    if old.is_file():
        click.echo(
            f"{old.name}: a single service from an older release, runs {old_config}; "
            f"migrate it: workspace-sync service install --config {old_config or 'PATH'}"
        )
