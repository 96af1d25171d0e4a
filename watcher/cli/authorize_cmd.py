"""``authorize``: an OAuth token (from ``rclone authorize`` or stdin) into the secrets file.

The new token is verified before it replaces anything: the config as it would be is loaded in
memory and a short ``rclone lsjson`` runs against a private rclone.conf in a temp folder (so the
tool's own rclone.conf, which may hold a token rclone refreshed, is untouched). Only when the
listing works are the secrets file (and, the first time, the ``secrets_file`` line of sync.toml)
written atomically, and then rclone.conf regenerated. A token that fails verification never
replaces a previous one; with no previous token it is stored anyway (nothing to lose, and an
offline host can still be set up) and the command exits 1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import anyio
import click

from watcher.cli.app import cli, common_options, load
from watcher.cli.config_writes import (
    SECRETS_MODE,
    FileWrite,
    existing_mode,
    link_secrets_text,
    merge_secrets,
    read_secrets,
    secrets_path_for,
    validate,
    write_files,
)
from watcher.config import Config, parse_config_file
from watcher.config.values import is_token
from watcher.engine import open_session
from watcher.engine.session import secret_values
from watcher.errors import CommandFailed, UsageError, WorkspaceSyncError
from watcher.fsutil import WriteFailed
from watcher.rclone import Rclone, RcloneBinary, ensure_config_file, find_rclone
from watcher.wizard import render_secrets

#: Providers whose access is an OAuth token, and their rclone backend names.
OAUTH_BACKENDS = {"dropbox": "dropbox", "gdrive": "drive", "onedrive": "onedrive"}
VERIFY_TIMEOUT = 30.0
AUTHORIZE_TIMEOUT = 900.0


def find_binary(configured: Path | None = None) -> RcloneBinary:
    """The rclone to use; exit with the error's code (one line) when there is none."""
    return anyio.run(find_rclone, configured)


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
        argv = [str(binary.path), "authorize", backend, "--auth-no-open-browser"]
        argv += ["--config", str(Path(tmp) / "rclone.conf"), "--cache-dir", str(Path(tmp) / "c")]
        try:
            done = subprocess.run(
                argv, stdout=subprocess.PIPE, env=env, timeout=AUTHORIZE_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise CommandFailed("rclone authorize timed out; run authorize again") from None
    if done.returncode != 0:
        raise CommandFailed(
            f"rclone authorize failed (exit {done.returncode}); see its message above"
        )
    text = done.stdout.decode(errors="replace")
    match = re.search(r"\{.*\}", text, flags=re.S)
    return match.group(0).strip() if match else ""


async def _listing_problem(cfg: Config) -> str:
    """List the remote of ``cfg`` through a throw-away rclone.conf; ``""`` when it worked,
    else why not. Nothing of the tool's state is touched."""
    binary = await find_rclone(cfg.rclone)
    with tempfile.TemporaryDirectory(prefix="workspace-sync-verify-") as tmp:
        rc = Rclone(
            binary,
            Path(tmp) / "rclone.conf",
            Path(tmp) / "cache",
            timeout=cfg.timeout,
            secrets=list(secret_values(cfg)),
        )
        await ensure_config_file(rc, cfg, Path(tmp) / "fingerprint.json")
        result = await rc.run(
            ["lsjson", "--max-depth", "1", f"{cfg.remote_name}:"],
            per_file=False,
            timeout=VERIFY_TIMEOUT,
            quiet_errors=True,
        )
    return "" if result.ok else result.message()


def _verify(cfg: Config) -> str:
    """:func:`_listing_problem`, with the tool's errors turned into the problem text."""
    try:
        return anyio.run(_listing_problem, cfg)
    except WorkspaceSyncError as exc:
        return str(exc)


@dataclass(frozen=True)
class Pending:
    """The config as it will be with the new token, and the files that make it so."""

    cfg: Config
    writes: tuple[FileWrite, ...]


def _pending(config_path: Path, cfg: Config, provider: str, token: str) -> Pending:
    """The files to write for the new token (secrets, then sync.toml when it gains the
    ``secrets_file`` line), validated in memory; exit 2 when the result would not load."""
    secrets_path = cfg.secrets_file or secrets_path_for(config_path)
    try:
        secrets = merge_secrets(read_secrets(secrets_path), {provider: {"token": token}})
        text = config_path.read_text(encoding="utf-8")
        if cfg.secrets_file is None:
            text = link_secrets_text(text, config_path, secrets_path)
        new = validate(text, cfg.config_path, secrets)
    except (WorkspaceSyncError, OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"nothing stored: the config with the new token would not load: {exc}"
        ) from None
    writes = [FileWrite(secrets_path, render_secrets(secrets), SECRETS_MODE)]
    if cfg.secrets_file is None:
        writes.append(FileWrite(config_path, text, existing_mode(config_path, 0o600)))
    return Pending(new, tuple(writes))


def _store(writes: tuple[FileWrite, ...]) -> None:
    try:
        write_files(writes)
    except WriteFailed as exc:
        raise CommandFailed(f"nothing stored: {exc}; the previous files are unchanged") from None
    click.echo(f"token stored in {writes[0].path} (mode 0600)")


def _refresh_rclone_conf(config_path: Path) -> None:
    """Bring the tool's rclone.conf up to date with the stored token."""
    try:
        anyio.run(open_session, parse_config_file(config_path))
    except WorkspaceSyncError as exc:
        raise CommandFailed(
            f"token stored, but rclone.conf could not be updated: {exc}", exc.exit_code
        ) from None


def authorize_provider(config_path: Path, provider: str, token: str | None) -> None:
    """Get (unless given) and verify a token for ``provider``, then store it; a token that
    fails verification never replaces a previous one (exit 1)."""
    cfg = parse_config_file(config_path)
    if token is None:
        binary = find_binary(cfg.rclone)
        backend = OAUTH_BACKENDS[provider]
        token = _token_from_rclone(binary, backend, cfg if cfg.provider == provider else None)
    token = token.strip()
    if not is_token(token):
        raise UsageError(
            'that is not an rclone token (expected JSON with "access_token"); nothing stored'
        )
    pending = _pending(config_path, cfg, provider, token)
    if cfg.provider != provider:
        _store(pending.writes)
        click.echo(f"not verified: the config uses provider {cfg.provider!r}, not {provider!r}")
        return
    remote = f"{cfg.remote_name}:"
    problem = _verify(pending.cfg)
    if problem:
        hint = "check the network and run authorize again if the token is wrong"
        if cfg.provider_options.get("token"):
            raise CommandFailed(
                f"verification failed: listing {remote} with the new token did not work: "
                f"{problem}; the previous token kept, nothing written; {hint}"
            )
        _store(pending.writes)
        raise CommandFailed(
            f"token stored, but verification failed: listing {remote} did not work: {problem}; "
            + hint
        )
    _store(pending.writes)
    _refresh_rclone_conf(config_path)
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
    """Get an OAuth token (rclone authorize, or stdin with --token -), check it with a short
    listing, then store it in the secrets file (0600) without printing it; a token that fails
    the check never replaces the previous one."""
    if stdin_marker is not None and stdin_marker != "-":
        raise UsageError(
            "--token takes only '-' (read the token from stdin); never the token itself"
        )
    cfg = load(ctx)
    provider = provider or cfg.provider
    if provider not in OAUTH_BACKENDS:
        raise UsageError(
            f"provider {provider!r} has no OAuth token; authorize works for dropbox, gdrive and "
            "onedrive (put other credentials in secrets_file)"
        )
    token = sys.stdin.read() if stdin_marker == "-" else None
    authorize_provider(cfg.config_path, provider, token)
