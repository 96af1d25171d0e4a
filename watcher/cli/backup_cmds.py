"""``backup`` (a snapshot now), ``backup list``, ``backup restore`` and ``backup prune``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from watcher.cli.app import Options, cli, common_options, load, run_async, session_for
from watcher.config import Config
from watcher.engine.backup import (
    Snapshot,
    SnapshotReport,
    check_restore_target,
    list_snapshots,
    require_backup,
    restore_snapshot,
    take_snapshot,
)
from watcher.engine.backup_prune import PruneReport, prune_snapshots
from watcher.errors import UsageError


def _load_enabled(ctx: click.Context) -> Config:
    """The config, or exit 2 when ``[backup]`` is not enabled (nothing touched)."""
    cfg = load(ctx, summaries=False)
    require_backup(cfg)
    return cfg


def _size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


@cli.group(invoke_without_command=True)
@click.option("--now", is_flag=True, help="Take a snapshot now (also the default).")
@common_options
@click.pass_context
def backup(ctx: click.Context, now: bool) -> None:
    """Encrypted snapshots of the workspace (see [backup] in the config). Without a
    subcommand: take a snapshot now (exit 0 ok, 1 failed or files unreadable)."""
    if ctx.invoked_subcommand is not None:
        if now:
            raise UsageError("--now takes no subcommand")
        return
    cfg = _load_enabled(ctx)

    async def go() -> SnapshotReport:
        return await take_snapshot(await session_for(cfg))

    report = run_async(go)
    if report.skipped:
        click.echo(f"backup  PARTIAL  {report.message()}", err=True)
        sys.exit(1)
    if ctx.ensure_object(Options).verbosity >= 0:
        click.echo(f"backup  ok  {report.message()}")


@backup.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@common_options
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List the complete snapshots (oldest first): name, size, time (UTC)."""
    cfg = _load_enabled(ctx)

    async def go() -> list[Snapshot]:
        return await list_snapshots(await session_for(cfg))

    snapshots = run_async(go)
    if as_json:
        click.echo(json.dumps([s.as_json() for s in snapshots], indent=2))
        return
    for s in snapshots:
        click.echo(f"{s.name:<24} {_size(s.size):>10}  {s.time:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"{len(snapshots)} snapshots", err=True)


@backup.command()
@click.argument("snapshot")
@click.option(
    "--to",
    "dest",
    required=True,
    type=click.Path(path_type=Path),
    help="Empty or new folder to restore into.",
)
@common_options
@click.pass_context
def restore(ctx: click.Context, snapshot: str, dest: Path) -> None:
    """Restore SNAPSHOT (a name from `backup list`) into the empty folder DEST: the workspace
    lands in DEST/workspace, extra include paths in DEST/include/<absolute path>."""
    cfg = _load_enabled(ctx)
    dest = dest.expanduser().absolute()
    check_restore_target(dest)  # before anything else, so nothing is touched

    async def go() -> int:
        return await restore_snapshot(await session_for(cfg), snapshot, dest)

    count = run_async(go)
    if ctx.ensure_object(Options).verbosity >= 0:
        click.echo(f"restored {snapshot} into {dest} ({count} entries)")


@backup.command()
@click.option("--dry-run", "-n", is_flag=True, help="Show what would be deleted; delete nothing.")
@common_options
@click.pass_context
def prune(ctx: click.Context, dry_run: bool) -> None:
    """Delete the snapshots that keep_last/keep_daily/keep_weekly/keep_monthly do not keep."""
    cfg = _load_enabled(ctx)

    async def go() -> PruneReport:
        return await prune_snapshots(await session_for(cfg), dry_run=dry_run)

    report = run_async(go)
    verb = "would delete" if dry_run else "deleted"
    for s in report.deleted:
        click.echo(f"{verb}  {s.name}")
    for name in report.leftovers:
        click.echo(f"{verb}  {name}")
    if ctx.ensure_object(Options).verbosity >= 0:
        for s in report.kept:
            click.echo(f"keep  {s.name}")
    click.echo(f"{len(report.kept)} kept, {len(report.deleted)} {verb}", err=True)
