"""The ``workspace-sync`` command line (thin: parse, call the engine, print)."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import anyio
import click
from loguru import logger

from watcher.config import Config, load_config
from watcher.engine import Session, open_session
from watcher.errors import WorkspaceSyncError
from watcher.log import setup_logging
from watcher.version import VERSION

T = TypeVar("T")
EXIT_INTERRUPTED = 130

HELP = """Keep an agent workspace in sync with cloud storage through rclone.

\b
Modes (set `mode` in sync.toml):
  mailbox  gateway side: push the workspace, drain the cloud _outbox into _inbox
  mirror   user side: pull the cloud into a local copy (+ optional ingest folder)
  bisync   both sides edit; conflicts keep both copies

The config is found as: --config PATH, $WORKSPACE_SYNC_CONFIG, ./sync.toml, then the
user config dir's workspace-sync/sync.toml. Exit codes: 0 ok, 1 a run failed or was
refused for safety, 2 usage or configuration error (nothing touched), 130 interrupted.
"""


@dataclass
class Options:
    """Global options, settable before or after the command name."""

    config: str | None = None
    verbosity: int = 0
    log_json: bool = False


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Options).config = value


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Options).verbosity = 1


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Options).verbosity = -1


def _set_log_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Options).log_json = True


F = TypeVar("F", bound=Callable[..., Any])


def common_options(func: F) -> F:
    """``--config``, ``-v``, ``-q`` and ``--log-json``, accepted on the group and on every
    command."""
    for decorator in (
        click.option(
            "--config",
            "-c",
            metavar="PATH",
            expose_value=False,
            callback=_set_config,
            help="Config file (default: see above).",
        ),
        click.option(
            "--verbose",
            "-v",
            is_flag=True,
            expose_value=False,
            callback=_set_verbose,
            help="Log per-file detail.",
        ),
        click.option(
            "--quiet",
            "-q",
            is_flag=True,
            expose_value=False,
            callback=_set_quiet,
            help="Log warnings and errors only.",
        ),
        click.option(
            "--log-json",
            is_flag=True,
            expose_value=False,
            callback=_set_log_json,
            help="Log one JSON object per line (for log collectors).",
        ),
    ):
        func = decorator(func)
    return func


def fail(message: str, code: int) -> NoReturn:
    """Print one error line and exit with ``code`` (the CLI's edge; commands raise the tool's
    errors, :class:`LazyGroup` maps them here)."""
    click.echo(f"workspace-sync: error: {message}", err=True)
    sys.exit(code)


def run_async(func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Run a coroutine function, mapping the tool's errors and Ctrl-C to exit codes."""
    try:
        return anyio.run(functools.partial(func, *args, **kwargs))
    except WorkspaceSyncError:
        raise
    except KeyboardInterrupt:
        click.echo("workspace-sync: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # an exception group from a task (e.g. the liveness check)
        error = _first_error(exc)
        if error is None:
            raise
        raise error from None


def _first_error(exc: BaseException) -> WorkspaceSyncError | None:
    """The first of the tool's errors in ``exc`` or the exception groups nested in it."""
    if isinstance(exc, WorkspaceSyncError):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _first_error(inner)
        if found is not None:
            return found
    return None


def load(ctx: click.Context, *, summaries: bool = True) -> Config:
    """Load the config named by the options and set up logging for it (exit 2 on errors);
    ``summaries=False`` for commands that print each run's result themselves."""
    opts = ctx.ensure_object(Options)
    setup_logging(opts.verbosity, summaries=summaries, json_lines=opts.log_json)
    cfg = load_config(opts.config)
    if cfg.log_file is not None:
        setup_logging(opts.verbosity, cfg.log_file, summaries=summaries, json_lines=opts.log_json)
    return cfg


async def session_for(cfg: Config, *, ask_features: bool = True) -> Session:
    """Open a session (rclone found, state dir and rclone.conf ready; see
    :func:`~watcher.engine.open_session`)."""
    return await open_session(cfg, ask_features=ask_features)


def version_text() -> str:
    """``workspace-sync X`` plus the rclone that would be used."""
    from watcher.rclone import find_rclone

    try:
        binary = anyio.run(find_rclone, None)
        rclone = f"rclone {binary.version_text} ({binary.path}, from {binary.origin})"
    except WorkspaceSyncError as exc:
        rclone = f"rclone: {exc}"
    return f"workspace-sync {VERSION}\n{rclone}"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit(0)


#: Each subcommand and the module that defines it, imported when the command is used (so that
#: ``backup`` or ``trigger`` does not pay for importing the daemon or the setup wizard).
COMMAND_MODULES = {
    "sync": "watcher.cli.commands",
    "status": "watcher.cli.commands",
    "list": "watcher.cli.commands",
    "check": "watcher.cli.check_cmd",
    "watch": "watcher.cli.daemon_cmds",
    "trigger": "watcher.cli.daemon_cmds",
    "service": "watcher.cli.service_cmds",
    "setup": "watcher.cli.setup_cmds",
    "authorize": "watcher.cli.authorize_cmd",
    "import-openclaw": "watcher.cli.import_cmd",
    "backup": "watcher.cli.backup_cmds",
}


class LazyGroup(click.Group):
    """A group whose subcommands are registered by importing their module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """All subcommand names, sorted (``--help`` then imports every module)."""
        return sorted({*self.commands, *COMMAND_MODULES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The subcommand ``cmd_name``, importing the module that defines it if needed."""
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(COMMAND_MODULES[cmd_name])
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; the tool's errors from any command become one line and their
        exit code here, once."""
        try:
            return super().invoke(ctx)
        except WorkspaceSyncError as exc:
            fail(str(exc), exc.exit_code)


@click.group(cls=LazyGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print the versions of workspace-sync and rclone.",
)
@common_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The command group."""
    ctx.ensure_object(Options)
    logger.remove()
