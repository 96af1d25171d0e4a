"""``setup`` (wizard), ``authorize`` (OAuth token into the secrets file) and ``import-openclaw``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import click
import platformdirs

from watcher.cli.app import Options, cli, common_options, fail, load, run_async
from watcher.cli.commands import print_records
from watcher.config import Config, parse_config, parse_config_file
from watcher.config.load import APP_NAME, CONFIG_ENV, is_token, read_toml
from watcher.config.model import MODES, is_secret
from watcher.engine import open_session, run_cycle
from watcher.errors import WorkspaceSyncError
from watcher.fsutil import atomic_write
from watcher.log import setup_logging
from watcher.openclaw import convert, parse_json
from watcher.plan.resync import resync_effect
from watcher.rclone import Rclone, RcloneBinary, backend_options, find_rclone

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

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
    render_config,
    render_secrets,
)

#: Providers whose access is an OAuth token, and their rclone backend names.
OAUTH_BACKENDS = {"dropbox": "dropbox", "gdrive": "drive", "onedrive": "onedrive"}
VERIFY_TIMEOUT = 30.0
AUTHORIZE_TIMEOUT = 900.0
SETUP_PROVIDERS = ("local", "dropbox", "gdrive", "onedrive", "s3", "custom", "off")


# --------------------------------------------------------------------------- shared helpers


def secrets_path_for(config_path: Path) -> Path:
    """The secrets file created beside ``config_path`` (``sync.toml`` → ``sync.secrets.toml``)."""
    return config_path.with_name(f"{config_path.stem}.secrets.toml")


def write_secrets(path: Path, secrets: dict[str, dict[str, Any]]) -> None:
    """Merge ``secrets`` into the secrets file at ``path`` (created 0600)."""
    current: dict[str, Any] = read_toml(path, "secrets") if path.exists() else {}
    for table, values in secrets.items():
        target = current.setdefault(table, {})
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                target[key].update(value)
            else:
                target[key] = value
    atomic_write(path, render_secrets(current), mode=0o600)


def link_secrets_file(config_path: Path, secrets_path: Path) -> None:
    """Add ``secrets_file = "..."`` to an existing sync.toml, before its first table, keeping
    its comments and mode."""
    text = config_path.read_text(encoding="utf-8")
    try:
        ref = secrets_path.relative_to(config_path.parent).as_posix()
    except ValueError:
        ref = str(secrets_path)
    line = f"secrets_file = {json.dumps(ref)}\n"
    match = re.search(r"^[ \t]*\[", text, flags=re.M)
    if match:
        text = text[: match.start()] + line + "\n" + text[match.start() :]
    else:
        text = text + ("" if text.endswith("\n") or not text else "\n") + line
    atomic_write(config_path, text, mode=config_path.stat().st_mode & 0o777)


def default_output(ctx: click.Context) -> Path:
    """Where setup writes: ``--config``, ``$WORKSPACE_SYNC_CONFIG``, else the user config dir."""
    explicit = ctx.ensure_object(Options).config or os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "sync.toml"


def _find_rclone(configured: Path | None = None) -> RcloneBinary:
    try:
        return anyio.run(find_rclone, configured)
    except WorkspaceSyncError as exc:
        fail(str(exc), exc.exit_code)
    raise AssertionError("unreachable")


def _catalogue(binary: RcloneBinary, rclone_type: str) -> dict[str, bool]:
    """The options of backend ``rclone_type`` (name → stored obscured); exit 2 when unknown."""
    with tempfile.TemporaryDirectory(prefix="workspace-sync-") as tmp:
        rc = Rclone(binary, Path(tmp) / "rclone.conf", Path(tmp) / "cache", timeout=60)
        try:
            return anyio.run(backend_options, rc, rclone_type)
        except WorkspaceSyncError as exc:
            fail(str(exc), exc.exit_code)
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- setup


def _interval_prompt(default: int, text: str = "", minimum: int = 60) -> int:
    """Ask for a number of seconds that is 0 (off) or at least ``minimum``."""
    text = text or f"Fallback full cycle every N seconds (0 = only on changes, else >= {minimum})"
    while True:
        value: int = click.prompt(text, default=default, type=click.IntRange(min=0))
        if value == 0 or value >= minimum:
            return value
        click.echo(f"Error: use 0 or at least {minimum} seconds.", err=True)


def _custom_interactive(binary: RcloneBinary, plan: Plan) -> None:
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


def _custom_flags(
    binary: RcloneBinary, plan: Plan, items: tuple[str, ...], stdin_secrets: dict[str, str]
) -> None:
    rclone_type = plan.tables["custom"]["rclone_type"]
    options = _catalogue(binary, rclone_type)
    known = ", ".join(sorted(options))
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            fail(f"--custom-option {name or item!r}: expected KEY=VALUE", 2)
        if name not in options:
            fail(
                f"--custom-option {name}: not an option of {rclone_type!r}; its options: {known}", 2
            )
        if options[name] or is_secret("custom", name):
            fail(
                f"--custom-option {name}: a secret is never taken as a flag value; give it on "
                f"stdin (--secrets-stdin, line custom.{name}=...) or in "
                f"$WORKSPACE_SYNC_CUSTOM_{name.upper()}",
                2,
            )
        plan.put("custom", name, value)
    for name, secret in options.items():
        value = stdin_secrets.get(f"custom.{name}") or os.environ.get(
            f"WORKSPACE_SYNC_CUSTOM_{name.upper()}", ""
        )
        if value:
            plan.put("custom", name, value, secret=secret or is_secret("custom", name))


def write_plan(plan: Plan, output: Path) -> Path | None:
    """Write sync.toml (and the secrets file when there are secrets); validate the result.
    Returns the secrets file written, if any."""
    secrets_path = None
    if any(plan.secrets.values()):
        secrets_path = secrets_path_for(output)
        plan.values["secrets_file"] = secrets_path.name
        atomic_write(secrets_path, render_secrets(plan.secrets), mode=0o600)
    text = render_config(plan.values, plan.tables)
    try:
        parse_config(tomllib.loads(text), output)
    except WorkspaceSyncError as exc:
        if secrets_path is not None:
            secrets_path.unlink(missing_ok=True)
        fail(f"nothing written: the resulting config would not load: {exc}", 2)
    atomic_write(output, text, mode=0o644)
    return secrets_path


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
    binary = _find_rclone()
    click.echo(f"rclone {binary.version_text} found ({binary.path}, from {binary.origin})")

    output = (output or default_output(ctx)).expanduser().absolute()
    if interactive:
        output = Path(click.prompt("Write the config to", default=str(output))).expanduser()
        output = output.absolute()
    if output.exists() and not force:
        if not interactive:
            fail(f"{output} exists; pass --force to overwrite it", 2)
        if not click.confirm(f"{output} exists. Overwrite it?", default=False):
            fail(f"nothing written; {output} kept as it was", 1)

    stdin_secrets: dict[str, str] = {}
    if flags.pop("secrets_stdin"):
        stdin_secrets = parse_secret_lines(sys.stdin.read())
    cli_flags = {
        "--" + name.replace("_", "-"): value for name, value in flags.items() if value is not None
    }
    if flags.get("custom_type") is not None:
        cli_flags["--custom-rclone-type"] = flags["custom_type"]
    if flags.get("local_dir") is not None:
        cli_flags["--local-dir"] = flags["local_dir"]
    ask: Ask = prompt_answer if interactive else flag_answerer(cli_flags, stdin_secrets)

    plan = Plan()
    provider = flags["provider"]
    if interactive:
        provider = click.prompt(
            "Storage provider", type=click.Choice(SETUP_PROVIDERS), default=provider or "local"
        )
    elif provider is None:
        fail("--provider is required with --non-interactive", 2)
    plan.values["provider"] = provider
    provider_answers(provider, ask, plan)
    if provider == "custom":
        if interactive:
            _custom_interactive(binary, plan)
        else:
            _custom_flags(binary, plan, flags["custom_option"], stdin_secrets)

    mode = flags["mode"]
    if interactive:
        click.echo(MODE_TRADEOFFS)
        mode = click.prompt("Mode", type=click.Choice(MODES), default=mode or "mailbox")
    elif mode is None:
        fail("--mode is required with --non-interactive", 2)
    plan.values["mode"] = mode

    defaults = {
        "workspace": flags["workspace"] or "~/.openclaw/workspace",
        "local_path": flags["local_path"] if flags["local_path"] is not None else "shared",
        "remote_path": flags["remote_path"]
        if flags["remote_path"] is not None
        else "openclaw-share",
    }
    if interactive:
        defaults["workspace"] = click.prompt("Workspace folder", default=defaults["workspace"])
        defaults["local_path"] = click.prompt(
            'Subfolder of the workspace to sync ("/" = all of it)', default=defaults["local_path"]
        )
        defaults["remote_path"] = click.prompt(
            'Folder in the cloud storage ("/" = its root)', default=defaults["remote_path"]
        )
    plan.values.update(defaults)
    if mode == "mirror":
        ingest = flags["ingest"]
        if interactive:
            ingest = click.confirm(
                "Enable an ingest folder (files dropped there are sent to the agent)?",
                default=bool(ingest),
            )
        if ingest:
            plan.values["ingest"] = True
            path = flags["ingest_path"] or "inbox"
            if interactive:
                path = click.prompt("Ingest folder, relative to the workspace", default=path)
            plan.values["ingest_path"] = path

    cloud = provider not in ("local", "off")
    interval = flags["interval"]
    if interval is None:
        interval = 300 if cloud and mode != "mailbox" else 0
    if interactive:
        if cloud:
            click.echo(
                "Cloud storage cannot be watched: its changes arrive at start-up, on `trigger` "
                "and every `interval` seconds."
            )
        interval = _interval_prompt(interval)
    elif 0 < interval < 60:
        fail(f"--interval {interval}: use 0 or at least 60 seconds", 2)
    plan.values["interval"] = interval
    if provider != "off":
        _backup_step(plan, interactive, flags, stdin_secrets)

    _absolute(plan.values, "workspace")
    _absolute(plan.tables.get("local", {}), "path")
    secrets_path = write_plan(plan, output)
    click.echo(f"wrote {output}")
    if secrets_path:
        click.echo(f"wrote {secrets_path} (secrets, mode 0600)")
    if "backup" in plan.tables:
        click.echo(f"backups enabled. {BACKUP_WARNING}")

    table = plan.secrets.get(provider, {})
    if provider in OAUTH_BACKENDS and "token" not in table:
        if interactive and click.confirm(f"Authorize {provider} now?", default=True):
            _authorize(output, provider, None)
        else:
            click.echo(f"next: workspace-sync --config {output} authorize")
            return

    dry = flags["first_dry_run"]
    if interactive:
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
            fail(f"--backup-interval {interval}: use 0 or at least 3600 seconds", 2)
        password = stdin_secrets.get("backup.password") or os.environ.get(
            "WORKSPACE_SYNC_BACKUP_PASSWORD", ""
        )
        if not password:
            fail(
                "--backup needs a password: backup.password=... on stdin with --secrets-stdin, "
                "or $WORKSPACE_SYNC_BACKUP_PASSWORD (never a flag); nothing written",
                2,
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
        session = await open_session(cfg)
        return await run_cycle(session, dry_run=True, resync=cfg.mode == "bisync")

    report = run_async(go)
    print_records(report)
    if not report.ok:
        fail("the first dry run failed (see above); fix the config and run sync --dry-run", 1)
    if cfg.mode == "bisync":
        click.echo(
            f"dry run ok; establish the baseline once with: workspace-sync --config {output} "
            f"sync --resync, then start syncing with: workspace-sync --config {output} watch"
        )
        return
    click.echo(f"dry run ok; start syncing with: workspace-sync --config {output} watch")


# --------------------------------------------------------------------------- authorize


def _token_from_rclone(binary: RcloneBinary, backend: str, cfg: Config | None) -> str:
    """Run ``rclone authorize BACKEND --auth-no-open-browser``: its link goes to the user's
    terminal (stderr), the token it prints is captured, never shown."""
    env = dict(os.environ)
    if cfg is not None:
        for ours, theirs in (("app_key", "client_id"), ("app_secret", "client_secret")):
            if cfg.provider_options.get(ours):
                env[f"RCLONE_{backend.upper()}_{theirs.upper()}"] = str(cfg.provider_options[ours])
    click.echo(
        "Open the link rclone prints below in a browser on this machine. On a headless host, "
        "either forward the port (ssh -L 53682:127.0.0.1:53682 HOST) or run\n"
        f'  rclone authorize "{backend}"\n'
        "on a machine with a browser and pipe its token in: workspace-sync authorize --token -",
        err=True,
    )
    with tempfile.TemporaryDirectory(prefix="workspace-sync-") as tmp:
        argv = [
            str(binary.path),
            "authorize",
            backend,
            "--auth-no-open-browser",
            "--config",
            str(Path(tmp) / "rclone.conf"),
            "--cache-dir",
            str(Path(tmp) / "c"),
        ]
        try:
            done = subprocess.run(
                argv, stdout=subprocess.PIPE, env=env, timeout=AUTHORIZE_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            fail("rclone authorize timed out; run authorize again", 1)
    if done.returncode != 0:
        fail(f"rclone authorize failed (exit {done.returncode}); see its message above", 1)
    text = done.stdout.decode(errors="replace")
    match = re.search(r"\{.*\}", text, flags=re.S)
    return match.group(0).strip() if match else ""


def _authorize(config_path: Path, provider: str, token: str | None) -> None:
    cfg = parse_config_file(config_path)
    backend = OAUTH_BACKENDS[provider]
    if token is None:
        binary = _find_rclone(cfg.rclone)
        token = _token_from_rclone(binary, backend, cfg if cfg.provider == provider else None)
    token = token.strip()
    if not is_token(token):
        fail('that is not an rclone token (expected JSON with "access_token"); nothing stored', 2)
    secrets_path = cfg.secrets_file
    if secrets_path is None:
        secrets_path = secrets_path_for(config_path)
        write_secrets(secrets_path, {provider: {"token": token}})
        link_secrets_file(config_path, secrets_path)
    else:
        write_secrets(secrets_path, {provider: {"token": token}})
    click.echo(f"token stored in {secrets_path} (mode 0600)")
    _verify(config_path, provider)


def _verify(config_path: Path, provider: str) -> None:
    try:
        cfg = parse_config_file(config_path)
    except WorkspaceSyncError as exc:
        fail(f"token stored, but the config does not load: {exc}", exc.exit_code)
    if cfg.provider != provider:
        click.echo(f"not verified: the config uses provider {cfg.provider!r}, not {provider!r}")
        return
    remote = f"{cfg.remote_name}:"

    async def go() -> str:
        session = await open_session(cfg)
        result = await session.rc.run(
            ["lsjson", "--max-depth", "1", remote],
            per_file=False,
            timeout=VERIFY_TIMEOUT,
            quiet_errors=True,
        )
        return "" if result.ok else result.message()

    try:
        problem = anyio.run(go)
    except WorkspaceSyncError as exc:
        problem = str(exc)
    if problem:
        fail(
            f"token stored, but verification failed: listing {remote} did not work: {problem}; "
            "check the network and run authorize again if the token is wrong",
            1,
        )
    click.echo(f"verified: listed {remote}")


@cli.command()
@click.option(
    "--provider",
    type=click.Choice(sorted(OAUTH_BACKENDS)),
    help="Provider to authorize (default: the config's provider).",
)
@click.option(
    "--token",
    "stdin_marker",
    metavar="-",
    help="Read the token JSON from stdin ('-'); the token is never a flag value.",
)
@common_options
@click.pass_context
def authorize(ctx: click.Context, provider: str | None, stdin_marker: str | None) -> None:
    """Get an OAuth token (rclone authorize, or stdin with --token -), store it in the
    secrets file (0600) without printing it, then check it with a short listing."""
    if stdin_marker is not None and stdin_marker != "-":
        fail("--token takes only '-' (read the token from stdin); never the token itself", 2)
    cfg = load(ctx)
    provider = provider or cfg.provider
    if provider not in OAUTH_BACKENDS:
        fail(
            f"provider {provider!r} has no OAuth token; authorize works for dropbox, gdrive and "
            "onedrive (put other credentials in secrets_file)",
            2,
        )
    token = sys.stdin.read() if stdin_marker == "-" else None
    _authorize(cfg.config_path, provider, token)


# --------------------------------------------------------------------------- import-openclaw


@cli.command(name="import-openclaw")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sync.toml"),
    show_default=True,
    help="sync.toml to write.",
)
@click.option("--workspace", help="The workspace folder (default: from openclaw.json).")
@click.option("--mode", type=click.Choice(MODES), help="Override or supply the mode.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@common_options
@click.pass_context
def import_openclaw(
    ctx: click.Context,
    path: Path,
    output: Path,
    workspace: str | None,
    mode: str | None,
    force: bool,
) -> None:
    """Convert the openclaw-workspace-sync plugin settings in an openclaw.json into sync.toml
    (secrets into a 0600 secrets file beside it); reports every key it could not map."""
    setup_logging(ctx.ensure_object(Options).verbosity)
    output = output.expanduser().absolute()
    if output.exists() and not force:
        fail(f"{output} exists; pass --force to overwrite it", 2)
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
        result = convert(data, workspace=workspace, mode=mode)
    except (ValueError, OSError) as exc:
        fail(f"{path}: cannot convert: {exc}", 2)
    plan = Plan(result.values, result.tables, result.secrets)
    secrets_path = write_plan(plan, output)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for item in result.unmapped:
        click.echo(f"not mapped: {item}", err=True)
    click.echo(f"wrote {output}")
    if secrets_path:
        click.echo(f"wrote {secrets_path} (secrets, mode 0600)")
