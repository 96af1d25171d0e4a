"""``sync``, ``status`` and ``list``."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any

import click

from watcher.cli.app import Options, cli, common_options, load, run_async, session_for
from watcher.cli.progress import SyncProgress, wants_progress
from watcher.config import Config
from watcher.engine import CycleReport, run_cycle
from watcher.engine.state import record_confirmation
from watcher.engine.status import gather_status, progress_text, with_config
from watcher.errors import CommandFailed, UsageError
from watcher.plan import remote_join, remote_root
from watcher.rclone import list_files


@cli.command()
@click.option("--dry-run", "-n", is_flag=True, help="Show what would change; touch nothing.")
@click.option(
    "--direction",
    type=click.Choice(["pull", "push"]),
    help="One one-way run instead of the mode's cycle (keeps the mode's excludes).",
)
@click.option(
    "--resync",
    is_flag=True,
    help="bisync: establish the baseline (first run, lost listings); a differing file gets "
    "the version conflict_resolve keeps, the other is kept as NAME.conflictN.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Override the safety guards (empty source, max_delete) for this run.",
)
@common_options
@click.pass_context
def sync(
    ctx: click.Context, dry_run: bool, direction: str | None, resync: bool, force: bool
) -> None:
    """Run one sync cycle now and exit (0 ok, 1 failed or refused)."""
    cfg = load(ctx, summaries=False)
    if resync and cfg.mode != "bisync":
        raise UsageError(f'--resync only applies to mode = "bisync" (this config is {cfg.mode})')
    if resync and direction:
        raise UsageError("--resync and --direction cannot be combined")

    opts = ctx.ensure_object(Options)
    progress = SyncProgress() if wants_progress(opts.verbosity, opts.log_json) else None

    async def go() -> CycleReport:
        session = await session_for(cfg)
        report = await run_cycle(
            session,
            direction=direction,  # type: ignore[arg-type]
            dry_run=dry_run,
            force=force,
            resync=resync,
            on_event=progress.on_event if progress is not None else None,
        )
        if report.ok and not dry_run and direction is None:
            record_confirmation(session.paths, cfg)  # a daemon waiting for it may go on
        return report

    if progress is None:
        report = run_async(go)
    else:
        with progress.shown():
            report = run_async(go)
    print_records(report, quiet=opts.verbosity < 0)
    sys.exit(0 if report.ok else 1)


def print_records(report: CycleReport, *, quiet: bool = False) -> None:
    """One line per step: successes on stdout (not with ``-q``), failures on stderr, then the
    command that resolves each refusal."""
    for record in report.records:
        state = "ok" if record.ok else ("REFUSED" if record.fix else "FAILED")
        if record.ok and quiet:
            continue
        click.echo(
            f"{record.kind:<7} {state:<8} {record.message} ({record.duration:.1f} s)",
            err=not record.ok,
        )
    for fix in report.fixes:
        click.echo(f"to resolve: {fix}", err=True)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def _daemon_line(daemon: dict[str, Any], config: str) -> str:
    other = daemon.get("other")
    if other:
        return (
            f"not running for this config; running for another config of this workspace and "
            f"remote (pid {other['pid']}, config {other['config']})"
        )
    if not daemon["running"]:
        return (
            f"not running (start it: `{with_config('workspace-sync watch', config)}` or "
            f"`{with_config('workspace-sync service install', config)}`)"
        )
    line = f"running (pid {daemon['pid']}"
    if daemon["uptime"] is not None:
        line += f", up {_age(daemon['uptime']).removesuffix(' ago')}"
    done = progress_text(daemon.get("progress"))
    line += (f", syncing now: {done})" if done else ", syncing now)") if daemon["busy"] else ")"
    pending = daemon["pending"]
    if pending and (pending["paths"] or pending["full"] or pending["steps"]):
        work = [f"{pending['paths']} changed paths"] if pending["paths"] else []
        work += ["full cycle"] if pending["full"] else []
        work += pending["steps"]
        line += "; pending: " + ", ".join(work)
    if daemon["failures"]:
        line += f"; {daemon['failures']} failed attempts, retrying"
    if daemon.get("deaf"):
        line += "; NOT WATCHING " + ", ".join(daemon["deaf"])
    if daemon["blocked"]:
        line += f"; BLOCKED until `{with_config(daemon['blocked'], config)}`"
    if daemon.get("new_pairing"):
        line += f"; NEW PAIRING waits for `{with_config(daemon['new_pairing']['command'], config)}`"
    return line


def _config_file_line(data: dict[str, Any]) -> str | None:
    """Says when the file on disk is not the config the daemon runs."""
    if not data.get("config_file", {}).get("differs"):
        return None
    daemon = data["daemon"]
    why = (
        "it waits for confirmation of the new pairing"
        if daemon.get("new_pairing")
        else f"it could not load it: {daemon['config_problem']}"
        if daemon.get("config_problem")
        else "it rereads it within seconds (or send SIGHUP)"
    )
    return (
        "config file changed since the daemon loaded it; the daemon runs the earlier "
        f"version ({why})"
    )


def _run_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The last run of each kind, the stalled paths, or "never ran"."""
    rows = []
    for kind, run in sorted(data["last_runs"].items()):
        state = "ok" if run["ok"] else "FAILED"
        line = f"{state}, {_age(run['age'])}: {run['message']}"
        if run.get("fix") and run["fix"] not in line:
            line += f" -> run `{with_config(run['fix'], data['config'])}`"
        rows.append((f"last {kind}", line))
    for path, count in (data.get("stalled") or {}).items():
        rows.append(("stalled", f"{path}: failed {count} runs in a row"))
    if not data["last_runs"]:
        rows.append(
            ("last runs", f"never ran: `{with_config('workspace-sync sync', data['config'])}`")
        )
    return rows


_CHECK_KINDS = (
    ("differ", "differ"),
    ("missing_on_remote", "missing on remote"),
    ("missing_locally", "missing locally"),
    ("errors", "not compared"),
)


def _check_text(check: dict[str, Any]) -> str:
    """The last ``check`` in one line: in sync, or what differs (a few paths named)."""
    when = _age(check["age"])
    if check.get("message"):
        return f"FAILED, {when}: {check['message']}"
    if check["match"]:
        return f"in sync, {when}: {check['matching']} files match"
    parts = []
    for key, title in _CHECK_KINDS:
        if check.get(key):
            names = ", ".join(check.get(f"{key}_paths", [])[:3])
            parts.append(f"{check[key]} {title} ({names}{', …' if check[key] > 3 else ''})")
    return f"NOT in sync, {when}: " + "; ".join(parts)


def _transfer_text(transfer: dict[str, Any]) -> str:
    """The ``[transfer]`` settings in one line (``bwlimit=1M, transfers=8, extra_flags=…``)."""
    return ", ".join(
        f"{key}={' '.join(value) if isinstance(value, list) else value}"
        for key, value in transfer.items()
    )


def _print_status(data: dict[str, Any]) -> None:
    health = data["health"]
    rows = [
        ("health", health.upper() if health != "ok" else "ok"),
        ("config", data["config"]),
        ("mode", data["mode"]),
        (
            "provider",
            data["provider"]
            + (" " + json.dumps(data["provider_options"]) if data["provider_options"] else ""),
        ),
        ("sync root", data["sync_root"]),
        ("remote root", data["remote_root"]),
        ("state dir", data["state_dir"]),
        ("rclone", f"{data['rclone']['version']} ({data['rclone']['path']})"),
    ]
    if "remote" in data:
        remote = data["remote"]
        rows.append(
            (
                "remote",
                ("reachable" if remote["reachable"] else "UNREACHABLE")
                + ("" if remote["message"] == "ok" else f": {remote['message']}"),
            )
        )
    if "bisync_baseline" in data:
        rows.append(
            (
                "baseline",
                "present"
                if data["bisync_baseline"]
                else f"MISSING: run `{data['command']}` (see action)",
            )
        )
    rows += [("warning", line) for line in (data.get("backend") or {}).get("warnings", [])]
    if data.get("transfer"):
        rows.append(("transfer", _transfer_text(data["transfer"])))
    rows.append(("daemon", _daemon_line(data["daemon"], data["config"])))
    rows += [("config file", line) for line in [_config_file_line(data)] if line]
    rows += _run_rows(data)
    if data.get("last_check"):
        rows.append(("last check", _check_text(data["last_check"])))
    if data["action"]:
        rows.append(("action", data["action"]))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--offline", is_flag=True, help="Do not check whether the remote is reachable.")
@common_options
@click.pass_context
def status(ctx: click.Context, as_json: bool, offline: bool) -> None:
    """Health screen: config (secrets redacted), rclone, remote, daemon, last runs, and the
    one action to take when something is wrong (`health` and `action` in --json)."""
    cfg = load(ctx)

    async def go() -> dict[str, Any]:
        session = await session_for(cfg, ask_features=not offline)
        return await gather_status(session, check_remote=not offline)

    data = run_async(go)
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        _print_status(data)


def _list_root(cfg: Config, path: str | None) -> str:
    root = remote_root(cfg)
    if not path:
        return root
    parts = [p for p in path.strip("/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UsageError(f"PATH {path!r} must stay inside the remote root {root}")
    return remote_join(root, "/".join(parts))


@cli.command(name="list")
@click.argument("path", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@common_options
@click.pass_context
def list_(ctx: click.Context, path: str | None, as_json: bool) -> None:
    """List the remote files (under PATH, relative to the remote root)."""
    cfg = load(ctx)

    async def go() -> list[dict[str, Any]] | None:
        root = _list_root(cfg, path)
        session = await session_for(cfg)
        entries = await list_files(session.rc, root)
        if entries is None:
            return None
        return [{"path": e.path, "size": e.size, "mtime": e.mtime} for e in entries]

    entries = run_async(go)
    if entries is None:
        raise CommandFailed(f"{_list_root(cfg, path)} does not exist")
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for e in sorted(entries, key=lambda item: item["path"]):
        stamp = datetime.fromtimestamp(e["mtime"], timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{e['size']:>12}  {stamp}  {e['path']}")
    click.echo(f"{len(entries)} files, {sum(e['size'] for e in entries)} bytes", err=True)
