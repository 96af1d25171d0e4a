"""``service install|uninstall|status|list``: run ``watch`` as a systemd user unit or launchd
agent, one instance per config.

The files and commands come from :mod:`watcher.service` (pure); :mod:`watcher.cli.service_files`
finds what is installed and runs ``systemctl --user`` / ``launchctl``.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import click
import platformdirs

from watcher.cli.app import cli, common_options, load
from watcher.cli.service_files import (
    MANAGER_TIMEOUT,
    available_manager,
    installed,
    legacy,
    run_all,
    run_one,
    write_file,
)
from watcher.cli.service_list import native, service_list
from watcher.config import Config
from watcher.config.load import APP_NAME
from watcher.errors import UsageError
from watcher.service import (
    LINGER_HINT,
    PASSED_ENV,
    Manager,
    ServicePlan,
    foreground_command,
    instance_name,
    plan_launchd,
    plan_systemd,
    watch_argv,
    writable_paths,
)


def program() -> list[str]:
    """How the service starts this tool: the ``workspace-sync`` script beside the running
    interpreter, else ``<interpreter> -m watcher`` (absolute, symlinks kept: a venv's python
    only finds its packages through its own path)."""
    interpreter = Path(sys.executable).absolute()
    script = interpreter.parent / "workspace-sync"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [str(interpreter), "-m", "watcher"]


def _state_base() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME))


def _plan(cfg: Config, manager: Manager, instance: str) -> ServicePlan:
    env = {key: os.environ[key] for key in PASSED_ENV if os.environ.get(key)}
    argv = watch_argv(program(), cfg.config_path)
    if manager == "launchd":
        return plan_launchd(instance, argv, home=Path.home(), uid=os.getuid(), env=env)
    writable = writable_paths(cfg, _state_base())
    return plan_systemd(
        instance, argv, cfg.config_path, home=Path.home(), writable=writable, env=env
    )


def _instance(cfg: Config, manager: Manager, name: str | None, *, installing: bool) -> str:
    """This config's instance: the installed one that runs it, else ``--name`` or the default.
    No command acts on another config's instance (exit 2)."""
    wanted = instance_name(cfg.config_path, name)
    found = installed(manager, Path.home())
    mine = [i.instance for i in found if i.config == cfg.config_path]
    if name is None and mine:
        return mine[0]
    taken = next((i for i in found if i.instance == wanted and i.config != cfg.config_path), None)
    if taken is not None:
        other = shlex.quote(str(taken.config))
        raise UsageError(
            f"service name {wanted!r} already runs {taken.config}; choose another --name "
            f"(or remove it: workspace-sync service uninstall --config {other})"
        )
    if installing and mine and wanted not in mine:
        raise UsageError(
            f"{cfg.config_path} already runs as service {mine[0]!r}; remove it first "
            f"(workspace-sync service uninstall --config {shlex.quote(str(cfg.config_path))})"
        )
    return wanted


def _load_plan(
    ctx: click.Context, manager: str, dry_run: bool, name: str | None, *, installing: bool = False
) -> tuple[Config, ServicePlan]:
    """Load the config and plan its instance for the chosen (or detected) manager."""
    cfg = load(ctx)
    chosen = _resolve_manager(manager, dry_run, cfg.config_path)
    return cfg, _plan(cfg, chosen, _instance(cfg, chosen, name, installing=installing))


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "$USER"


def _show_commands(commands: Sequence[Sequence[str]]) -> None:
    click.echo("# would run:")
    for argv in commands:
        click.echo(shlex.join(argv))


def _linger_hint() -> str | None:
    """The ``loginctl enable-linger`` advice, unless lingering is already on."""
    user = _user()
    try:
        done = subprocess.run(
            ["loginctl", "show-user", user, "--property=Linger", "--value"],
            capture_output=True,
            text=True,
            timeout=MANAGER_TIMEOUT / 3,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip() == "yes":
            return None
    except (OSError, subprocess.TimeoutExpired):
        pass
    return LINGER_HINT.format(user=user)


def _resolve_manager(choice: str, dry_run: bool, config: Path) -> Manager:
    """The manager to use; without one (containers), say what to run instead and exit 2."""
    found = available_manager()
    if choice != "auto":
        wanted: Manager = "launchd" if choice == "launchd" else "systemd"
    else:
        wanted = found or native()
    if dry_run:
        if found != wanted:
            click.echo(f"# note: no {wanted} user instance runs here", err=True)
        return wanted
    if found != wanted:
        raise UsageError(
            f"no {wanted} user service manager is available here (a container?); run the "
            f"daemon in the foreground instead (e.g. under your supervisor): "
            f"{foreground_command(program(), config)}"
        )
    return wanted


def _migration(cfg: Config, plan: ServicePlan) -> tuple[Path | None, tuple[str, ...] | None]:
    """The old single service: ``(file, stop command)`` when it runs this config (install
    replaces it), ``(None, None)`` otherwise (a note names the config it runs)."""
    path, config, stop = legacy(plan.manager, Path.home(), os.getuid())
    if not path.is_file():
        return None, None
    if config == cfg.config_path:
        return path, stop
    click.echo(
        f"note: {path} (a single service from an older release) runs {config or 'another config'}"
        f"; `workspace-sync service install --config {config or 'PATH'}` moves it to its own "
        "instance",
        err=True,
    )
    return None, None


manager_option = click.option(
    "--manager",
    type=click.Choice(["auto", "systemd", "launchd"]),
    default="auto",
    show_default=True,
    help="Service manager (auto: launchd on macOS, systemd elsewhere).",
)
dry_run_option = click.option(
    "--dry-run", "-n", is_flag=True, help="Print the files and the commands; change nothing."
)
name_option = click.option(
    "--name",
    metavar="NAME",
    default=None,
    help="Instance name (default: derived from the config's path, as systemd-escape --path).",
)


@cli.group()
@common_options
def service() -> None:
    """Run `workspace-sync watch` as a user service, one per config (systemd on Linux, launchd
    on macOS)."""


def _install_dry_run(plan: ServicePlan, legacy_stop: tuple[str, ...] | None) -> None:
    for path, content in plan.files:
        click.echo(f"# would write {path}:")
        click.echo(content.rstrip("\n"))
    _show_commands(([legacy_stop] if legacy_stop else []) + list(plan.install))


def _prepare_folders(cfg: Config, plan: ServicePlan) -> None:
    """Make the folders the sandbox names writable (missing ones are skipped at start)."""
    if plan.manager == "launchd":
        (Path.home() / "Library" / "Logs" / "workspace-sync").mkdir(parents=True, exist_ok=True)
        return
    _state_base().mkdir(parents=True, exist_ok=True, mode=0o700)
    if cfg.log_file is not None:
        cfg.log_file.parent.mkdir(parents=True, exist_ok=True)


@service.command()
@dry_run_option
@manager_option
@name_option
@common_options
@click.pass_context
def install(ctx: click.Context, dry_run: bool, manager: str, name: str | None) -> None:
    """Write this config's unit/agent and start it (restarted on failure, at login or, with
    lingering, at boot). Other configs' services are left alone."""
    cfg, plan = _load_plan(ctx, manager, dry_run, name, installing=True)
    old, old_stop = _migration(cfg, plan)
    hint = _linger_hint() if plan.manager == "systemd" else None
    if dry_run:
        _install_dry_run(plan, old_stop)
        if old is not None:
            click.echo(f"rm -f {shlex.quote(str(old))}")
        if hint:
            click.echo(f"# {hint}")
        return
    if old is not None and old_stop is not None:
        run_all([old_stop], frozenset({old_stop}))
        old.unlink(missing_ok=True)
        click.echo(f"migrated {old} to {plan.unit}")
    _prepare_folders(cfg, plan)
    for path, content in plan.files:
        write_file(path, content)
    run_all(plan.install, plan.tolerated)
    click.echo(f"installed and started {plan.unit} ({plan.path})")
    click.echo(f"logs: {plan.logs}")
    if hint:
        click.echo(hint)


def _removals(plan: ServicePlan) -> list[Path]:
    """The instance's files, plus the template when no other instance is left."""
    paths = list(plan.remove)
    if plan.manager == "systemd":
        others = [i for i in installed("systemd", Path.home()) if i.instance != plan.instance]
        if not others:
            paths.append(plan.files[0][0])
    return paths


@service.command()
@dry_run_option
@manager_option
@name_option
@common_options
@click.pass_context
def uninstall(ctx: click.Context, dry_run: bool, manager: str, name: str | None) -> None:
    """Stop this config's service and remove its files (other configs' stay)."""
    _cfg, plan = _load_plan(ctx, manager, dry_run, name)
    removals = _removals(plan)
    if dry_run:
        _show_commands(plan.stop)
        for path in removals:
            click.echo(f"rm -f {shlex.quote(str(path))}")
        for argv in plan.after_remove:
            click.echo(shlex.join(argv))
        return
    run_all(plan.stop, plan.tolerated)
    existed = plan.path.exists()
    for path in removals:
        path.unlink(missing_ok=True)
    if plan.manager == "systemd" and plan.path.parent.is_dir():
        _remove_empty(plan.path.parent)
    run_all(plan.after_remove, plan.tolerated)
    click.echo(f"removed {plan.unit}" if existed else f"{plan.unit} was not installed")


def _remove_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # the user's own drop-ins (systemctl --user edit) stay
        folder.rmdir()


@service.command(name="status")
@dry_run_option
@manager_option
@name_option
@common_options
@click.pass_context
def service_status(ctx: click.Context, dry_run: bool, manager: str, name: str | None) -> None:
    """Whether this config's unit/agent is installed, and what the service manager says."""
    _cfg, plan = _load_plan(ctx, manager, dry_run, name)
    if dry_run:
        _show_commands(plan.status)
        return
    state = "installed" if plan.path.exists() else "not installed"
    click.echo(f"{plan.unit}: {state} ({plan.path})")
    for argv in plan.status:
        done = run_one(argv)
        click.echo((done.stdout or done.stderr).rstrip("\n"))
    click.echo(f"logs: {plan.logs}")


service.add_command(service_list)
