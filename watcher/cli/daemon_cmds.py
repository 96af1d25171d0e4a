"""``watch`` and ``trigger``."""

from __future__ import annotations

import os
import signal
import sys

import click

from watcher.cli.app import Options, cli, common_options, load, run_async, session_for
from watcher.cli.commands import print_records
from watcher.daemon import Daemon
from watcher.daemon.reload import confirm_command
from watcher.engine import CycleReport, LockHeld, run_cycle, state_paths
from watcher.engine.state import StatePaths, read_json
from watcher.engine.status import find_daemon
from watcher.errors import UsageError


@cli.command()
@common_options
@click.pass_context
def watch(ctx: click.Context) -> None:
    """Run in the foreground: a full cycle now, then sync on file events (debounced), on the
    fallback timer (`interval`) and on `trigger`. SIGINT/SIGTERM stop it cleanly (exit 0)."""
    cfg = load(ctx)

    async def go() -> None:
        session = await session_for(cfg)
        daemon = Daemon(session)
        try:
            await daemon.run()
        except LockHeld as exc:
            raise UsageError(f"{exc}; stop that daemon first or use its config") from None

    run_async(go)
    sys.exit(0)


def waits_for_pairing(paths: StatePaths, pid: int) -> bool:
    """True when the daemon ``pid`` says (``daemon.json``) that a new pairing waits."""
    state = read_json(paths.daemon_state, None)
    return isinstance(state, dict) and state.get("pid") == pid and bool(state.get("new_pairing"))


@cli.command()
@click.option(
    "--event",
    type=click.Choice(["session-start", "session-end"]),
    help="Honour on_session_start / on_session_end from the config.",
)
@common_options
@click.pass_context
def trigger(ctx: click.Context, event: str | None) -> None:
    """Ask the running daemon for a cycle now; without a daemon, run one cycle here."""
    cfg = load(ctx, summaries=False)
    if event is not None:
        key = "on_" + event.replace("-", "_")
        if not getattr(cfg, key):
            click.echo(f"{key} = false in {cfg.config_path}: nothing to do")
            return
    paths = state_paths(cfg)
    holder = find_daemon(paths, str(cfg.config_path))
    if holder is not None and holder.config not in (None, str(cfg.config_path)):
        click.echo(
            f"the daemon of this workspace and remote runs another config "
            f"({holder.describe()}): running one cycle of {cfg.config_path} here"
        )
    elif holder is not None and holder.pid is not None and holder.pid > 0:
        if waits_for_pairing(paths, holder.pid):
            click.echo(
                f"the daemon (pid {holder.pid}) waits for confirmation of a new pairing (the "
                f"config file changed): no cycle; check both sides, then run "
                f"`{confirm_command(cfg)}` once"
            )
            return
        try:
            os.kill(holder.pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass
        else:
            click.echo(f"asked the daemon (pid {holder.pid}) for a cycle")
            return

    async def go() -> CycleReport:
        return await run_cycle(await session_for(cfg))

    report = run_async(go)
    print_records(report, quiet=ctx.ensure_object(Options).verbosity < 0)
    sys.exit(0 if report.ok else 1)
