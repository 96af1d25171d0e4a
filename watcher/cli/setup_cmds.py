"""``setup``: the wizard (interactive, or every answer from flags/stdin/env) that writes sync.toml
and its 0600 secrets file, validated in memory before anything is written
(:mod:`watcher.cli.config_writes`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import platformdirs

from watcher.cli.app import Options, cli, common_options, run_async
from watcher.cli.authorize_cmd import OAUTH_BACKENDS, authorize_provider, find_binary
from watcher.cli.commands import print_records
from watcher.cli.config_writes import write_plan
from watcher.cli.setup_custom import custom_flags, custom_interactive
from watcher.config import Config, parse_config_file
from watcher.config.load import APP_NAME, CONFIG_ENV
from watcher.config.model import MODES
from watcher.engine import open_session, run_cycle
from watcher.errors import CommandFailed, UsageError
from watcher.log import setup_logging
from watcher.plan.resync import resync_effect
from watcher.rclone import RcloneBinary
from watcher.rclone.features import capability_warnings
from watcher.wizard import (
    BACKUP_INTRO,
    BACKUP_WARNING,
    MODE_TRADEOFFS,
    Ask,
    Plan,
    backup_answers,
    flag_answerer,
    parse_secret_lines,
    prompt_answer,
    provider_answers,
)

SETUP_PROVIDERS = ("local", "dropbox", "gdrive", "onedrive", "s3", "custom", "off")


def default_output(ctx: click.Context) -> Path:
    """Where setup writes: ``--config``, ``$WORKSPACE_SYNC_CONFIG``, else the user config dir."""
    explicit = ctx.ensure_object(Options).config or os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "sync.toml"


# --------------------------------------------------------------------------- setup


def _interval_prompt(default: int, text: str = "", minimum: int = 60) -> int:
    """Ask for a number of seconds that is 0 (off) or at least ``minimum``."""
    text = text or f"Fallback full cycle every N seconds (0 = only on changes, else >= {minimum})"
    while True:
        value: int = click.prompt(text, default=default, type=click.IntRange(min=0))
        if value == 0 or value >= minimum:
            return value
        click.echo(f"Error: use 0 or at least {minimum} seconds.", err=True)


@cli.command()
@click.option("--non-interactive", is_flag=True, help="Take every answer from flags/stdin/env.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file to write (default: --config, $WORKSPACE_SYNC_CONFIG, or the "
    "user config dir).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing config without asking.")
@click.option("--provider", type=click.Choice(SETUP_PROVIDERS), help="Storage provider.")
@click.option("--mode", type=click.Choice(MODES), help="mailbox, mirror or bisync.")
@click.option("--workspace", help="The local folder to sync.")
@click.option("--local-path", help='Subfolder of the workspace that is synced ("" = all).')
@click.option("--remote-path", help='Folder in the cloud storage ("" = its root).')
@click.option("--interval", type=click.IntRange(min=0), help="Fallback cycle seconds (0 or >= 60).")
@click.option("--ingest/--no-ingest", default=None, help="mirror: enable the ingest folder.")
@click.option("--ingest-path", help="mirror: ingest folder, relative to the workspace.")
@click.option("--local-dir", help="provider local: the folder standing in for the cloud.")
@click.option(
    "--dropbox-app-folder/--no-dropbox-app-folder",
    default=None,
    help="dropbox: app-folder (scoped) app.",
)
@click.option("--dropbox-app-key", help="dropbox: your app key.")
@click.option("--gdrive-team-drive", help="gdrive: shared drive id.")
@click.option("--gdrive-root-folder-id", help="gdrive: root folder id.")
@click.option("--onedrive-drive-id", help="onedrive: drive id.")
@click.option("--onedrive-drive-type", help="onedrive: personal, business or sharepoint.")
@click.option("--s3-provider", help="s3: AWS, Cloudflare, Minio, Rclone, Other, ...")
@click.option("--s3-endpoint", help="s3: endpoint URL.")
@click.option("--s3-region", help="s3: region.")
@click.option("--s3-bucket", help="s3: bucket.")
@click.option("--custom-type", help="custom: rclone backend type.")
@click.option(
    "--custom-option",
    multiple=True,
    metavar="KEY=VALUE",
    help="custom: a non-secret rclone option (repeatable).",
)
@click.option(
    "--backup/--no-backup",
    default=None,
    help="Enable encrypted snapshots; the password comes as backup.password=... with "
    "--secrets-stdin or from $WORKSPACE_SYNC_BACKUP_PASSWORD, never as a flag.",
)
@click.option(
    "--backup-remote-path", help="backup: folder for snapshots (default openclaw-backup)."
)
@click.option(
    "--backup-interval",
    type=click.IntRange(min=0),
    help="backup: seconds between the daemon's snapshots (0 = only `backup`; default 86400).",
)
@click.option(
    "--secrets-stdin",
    is_flag=True,
    help="Read secrets as table.key=value lines from stdin (else from "
    "$WORKSPACE_SYNC_<TABLE>_<KEY>).",
)
@click.option(
    "--dry-run/--no-dry-run",
    "first_dry_run",
    default=None,
    help="Run a first `sync --dry-run` after writing (default: yes).",
)
@common_options
@click.pass_context
def setup(
    ctx: click.Context, /, non_interactive: bool, output: Path | None, force: bool, **flags: Any
) -> None:
    """Create sync.toml step by step: rclone, provider, mode, paths, interval, first dry run.

    Secrets are asked with hidden prompts (or read from stdin/environment with
    --non-interactive) and written to a 0600 secrets file beside sync.toml.
    """
    setup_logging(ctx.ensure_object(Options).verbosity, summaries=False)
    interactive = not non_interactive
    binary = find_binary()
    click.echo(f"rclone {binary.version_text} found ({binary.path}, from {binary.origin})")
    output = _output_path(ctx, output, interactive, force)
    stdin_secrets = parse_secret_lines(sys.stdin.read()) if flags.pop("secrets_stdin") else {}
    step = _Step(interactive, flags, stdin_secrets)
    plan = Plan()
    provider = _provider_step(step, binary, plan)
    mode = _mode_step(step, plan)
    _paths_step(step, plan, mode)
    _interval_step(step, plan, provider, mode)
    if provider != "off":
        _backup_step(plan, interactive, flags, stdin_secrets)
    _absolute(plan.values, "workspace")
    _absolute(plan.tables.get("local", {}), "path")
    written = write_plan(plan, output)
    click.echo(f"wrote {output}")
    if written.secrets_path:
        click.echo(f"wrote {written.secrets_path} (secrets, mode 0600)")
    if written.kept:
        click.echo(f"kept from {written.cfg.secrets_file}: " + ", ".join(written.kept))
    if "backup" in plan.tables:
        click.echo(f"backups enabled. {BACKUP_WARNING}")
    _finish(step, written.cfg, output)


@dataclass(frozen=True)
class _Step:
    """What every step of the wizard answers from: prompts, or flags + stdin + environment."""

    interactive: bool
    flags: Mapping[str, Any]
    stdin_secrets: Mapping[str, str]

    def ask(self) -> Ask:
        """Answer provider questions by prompt, or from flags/stdin/env."""
        if self.interactive:
            return prompt_answer
        cli_flags = {
            "--" + name.replace("_", "-"): value
            for name, value in self.flags.items()
            if value is not None
        }
        if self.flags.get("custom_type") is not None:
            cli_flags["--custom-rclone-type"] = self.flags["custom_type"]
        return flag_answerer(cli_flags, self.stdin_secrets)


def _output_path(ctx: click.Context, output: Path | None, interactive: bool, force: bool) -> Path:
    """The config file to write; an existing one only with --force (or a yes)."""
    output = (output or default_output(ctx)).expanduser().absolute()
    if interactive:
        output = Path(click.prompt("Write the config to", default=str(output))).expanduser()
        output = output.absolute()
    if output.exists() and not force:
        if not interactive:
            raise UsageError(f"{output} exists; pass --force to overwrite it")
        if not click.confirm(f"{output} exists. Overwrite it?", default=False):
            raise CommandFailed(f"nothing written; {output} kept as it was")
    return output


def _provider_step(step: _Step, binary: RcloneBinary, plan: Plan) -> str:
    provider = step.flags["provider"]
    if step.interactive:
        provider = click.prompt(
            "Storage provider", type=click.Choice(SETUP_PROVIDERS), default=provider or "local"
        )
    elif provider is None:
        raise UsageError("--provider is required with --non-interactive")
    plan.values["provider"] = provider
    provider_answers(provider, step.ask(), plan)
    if provider == "custom":
        if step.interactive:
            custom_interactive(binary, plan)
        else:
            custom_flags(binary, plan, step.flags["custom_option"], dict(step.stdin_secrets))
    return str(provider)


def _mode_step(step: _Step, plan: Plan) -> str:
    mode = step.flags["mode"]
    if step.interactive:
        click.echo(MODE_TRADEOFFS)
        mode = click.prompt("Mode", type=click.Choice(MODES), default=mode or "mailbox")
    elif mode is None:
        raise UsageError("--mode is required with --non-interactive")
    plan.values["mode"] = mode
    return str(mode)


def _paths_step(step: _Step, plan: Plan, mode: str) -> None:
    flags = step.flags
    values = {
        "workspace": flags["workspace"] or "~/.openclaw/workspace",
        "local_path": flags["local_path"] if flags["local_path"] is not None else "shared",
        "remote_path": flags["remote_path"]
        if flags["remote_path"] is not None
        else "openclaw-share",
    }
    if step.interactive:
        values["workspace"] = click.prompt("Workspace folder", default=values["workspace"])
        values["local_path"] = click.prompt(
            'Subfolder of the workspace to sync ("/" = all of it)', default=values["local_path"]
        )
        values["remote_path"] = click.prompt(
            'Folder in the cloud storage ("/" = its root)', default=values["remote_path"]
        )
    plan.values.update(values)
    if mode != "mirror":
        return
    ingest = flags["ingest"]
    if step.interactive:
        ingest = click.confirm(
            "Enable an ingest folder (files dropped there are sent to the agent)?",
            default=bool(ingest),
        )
    if ingest:
        plan.values["ingest"] = True
        path = flags["ingest_path"] or "inbox"
        if step.interactive:
            path = click.prompt("Ingest folder, relative to the workspace", default=path)
        plan.values["ingest_path"] = path


def _interval_step(step: _Step, plan: Plan, provider: str, mode: str) -> None:
    cloud = provider not in ("local", "off")
    interval = step.flags["interval"]
    if interval is None:
        interval = 300 if cloud and mode != "mailbox" else 0
    if step.interactive:
        if cloud:
            click.echo(
                "Cloud storage cannot be watched: its changes arrive at start-up, on `trigger` "
                "and every `interval` seconds."
            )
        interval = _interval_prompt(interval)
    elif 0 < interval < 60:
        raise UsageError(f"--interval {interval}: use 0 or at least 60 seconds")
    plan.values["interval"] = interval


def _finish(step: _Step, cfg: Config, output: Path) -> None:
    """After writing: authorize an OAuth provider without a token, then the first dry run."""
    provider = cfg.provider
    if provider in OAUTH_BACKENDS and not cfg.provider_options.get("token"):
        if step.interactive and click.confirm(f"Authorize {provider} now?", default=True):
            authorize_provider(output, provider, None)
        else:
            click.echo(f"next: workspace-sync --config {output} authorize")
            return
    dry = step.flags["first_dry_run"]
    if step.interactive:
        dry = click.confirm("Run a first dry run now (nothing is changed)?", default=True)
    if dry is False or provider == "off":
        click.echo(f"next: workspace-sync --config {output} sync --dry-run")
        return
    _first_dry_run(output)


def _backup_step(
    plan: Plan, interactive: bool, flags: dict[str, Any], stdin_secrets: dict[str, str]
) -> None:
    """Ask whether to take encrypted snapshots, and their password, folder and interval."""
    enabled = flags["backup"]
    remote_path = flags["backup_remote_path"] or "openclaw-backup"
    interval = flags["backup_interval"] if flags["backup_interval"] is not None else 86400
    if interactive:
        click.echo(BACKUP_INTRO)
        enabled = click.confirm("Take encrypted snapshots (backups)?", default=bool(enabled))
    if not enabled:
        return
    if interactive:
        click.echo(BACKUP_WARNING)
        password = click.prompt(
            "Backup password", hide_input=True, confirmation_prompt=True, type=str
        ).strip()
        remote_path = click.prompt("Folder for the snapshots", default=remote_path)
        interval = _interval_prompt(
            interval, "Seconds between the daemon's snapshots (0 = only `backup`)", 3600
        )
    else:
        if 0 < interval < 3600:
            raise UsageError(f"--backup-interval {interval}: use 0 or at least 3600 seconds")
        password = stdin_secrets.get("backup.password") or os.environ.get(
            "WORKSPACE_SYNC_BACKUP_PASSWORD", ""
        )
        if not password:
            raise UsageError(
                "--backup needs a password: backup.password=... on stdin with --secrets-stdin, "
                "or $WORKSPACE_SYNC_BACKUP_PASSWORD (never a flag); nothing written"
            )
    backup_answers(plan, password, remote_path, interval)


def _absolute(table: dict[str, Any], key: str) -> None:
    """Paths typed at setup are relative to the current folder, not to the config file."""
    value = table.get(key)
    if isinstance(value, str) and value and not value.startswith(("~", "$", "/")):
        table[key] = str(Path.cwd() / value)


def _first_dry_run(output: Path) -> None:
    cfg = parse_config_file(output)
    if not cfg.workspace.exists():
        cfg.workspace.mkdir(parents=True)
        click.echo(f"created the workspace folder {cfg.workspace}")
    if cfg.mode == "bisync":
        click.echo(
            "bisync: this dry run shows what the first `sync --resync` would do: "
            + resync_effect(cfg.conflict_resolve)
        )

    async def go() -> Any:
        session = await open_session(cfg)  # writes the remote section, asks its features
        features = await session.features()
        for line in capability_warnings(features, bisync=cfg.mode == "bisync"):
            click.echo(f"warning: {line}", err=True)
        return await run_cycle(session, dry_run=True, resync=cfg.mode == "bisync")

    report = run_async(go)
    print_records(report)
    if not report.ok:
        raise CommandFailed(
            "the first dry run failed (see above); fix the config and run sync --dry-run"
        )
    if cfg.mode == "bisync":
        click.echo(
            f"dry run ok; establish the baseline once with: workspace-sync --config {output} "
            f"sync --resync, then start syncing with: workspace-sync --config {output} watch"
        )
        return
    click.echo(f"dry run ok; start syncing with: workspace-sync --config {output} watch")
