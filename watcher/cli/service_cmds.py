"""``service install|uninstall|status``: run ``watch`` as a systemd user unit or launchd agent.

The files and commands come from :mod:`watcher.service` (pure); this module detects the
service manager, writes the file and runs ``systemctl --user`` / ``launchctl``.
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from watcher.cli.app import cli, common_options, fail, load
from watcher.service import (
    LINGER_HINT,
    PASSED_ENV,
    Manager,
    ServicePlan,
    foreground_command,
    plan_service,
    watch_argv,
)

#: Seconds a ``systemctl``/``launchctl``/``loginctl`` call may take.
MANAGER_TIMEOUT = 30.0


def program() -> list[str]:
    """How the service starts this tool: the ``workspace-sync`` script beside the running
    interpreter, else ``<interpreter> -m watcher`` (absolute, symlinks kept: a venv's python
    only finds its packages through its own path)."""
    interpreter = Path(sys.executable).absolute()
    script = interpreter.parent / "workspace-sync"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [str(interpreter), "-m", "watcher"]


def _quiet_ok(argv: Sequence[str]) -> bool:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, timeout=MANAGER_TIMEOUT / 3, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def available_manager() -> Manager | None:
    """The user service manager that runs here: launchd on macOS, a systemd *user* instance on
    Linux (absent in most containers), else ``None``."""
    if sys.platform == "darwin":
        return "launchd" if shutil.which("launchctl") else None
    if shutil.which("systemctl") and _quiet_ok(["systemctl", "--user", "show-environment"]):
        return "systemd"
    return None


def _native() -> Manager:
    return "launchd" if sys.platform == "darwin" else "systemd"


def _plan(config: Path, manager: Manager) -> ServicePlan:
    env = {key: os.environ[key] for key in PASSED_ENV if os.environ.get(key)}
    return plan_service(
        manager, watch_argv(program(), config), home=Path.home(), uid=os.getuid(), env=env
    )


def _load_plan(ctx: click.Context, manager: str, dry_run: bool) -> ServicePlan:
    """Load the config and plan the service for the chosen (or detected) manager."""
    config = load(ctx).config_path
    return _plan(config, _resolve_manager(manager, dry_run, config))


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "$USER"


def _show(plan: ServicePlan, commands: Sequence[Sequence[str]], *, write: bool) -> None:
    """``--dry-run``: the file and the commands, runnable as shown."""
    if write:
        click.echo(f"# would write {plan.path}:")
        click.echo(plan.content.rstrip("\n"))
    click.echo("# would run:")
    for argv in commands:
        click.echo(shlex.join(argv))


def _run_one(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a service-manager command; one line and exit 1 when it cannot run at all."""
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=MANAGER_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        fail(f"`{shlex.join(argv)}` failed: {exc}", 1)


def _run_all(plan: ServicePlan, commands: Sequence[Sequence[str]]) -> None:
    for argv in commands:
        done = _run_one(argv)
        if done.returncode != 0 and tuple(argv) not in plan.tolerated:
            detail = (done.stderr or done.stdout).strip().splitlines()
            fail(
                f"`{shlex.join(argv)}` exited {done.returncode}"
                + (f": {detail[-1]}" if detail else ""),
                1,
            )


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
        wanted = found or _native()
    if dry_run:
        if found != wanted:
            click.echo(f"# note: no {wanted} user instance runs here", err=True)
        return wanted
    if found != wanted:
        fail(
            f"no {wanted} user service manager is available here (a container?); run the "
            f"daemon in the foreground instead (e.g. under your supervisor): "
            f"{foreground_command(program(), config)}",
            2,
        )
    return wanted


manager_option = click.option(
    "--manager",
    type=click.Choice(["auto", "systemd", "launchd"]),
    default="auto",
    show_default=True,
    help="Service manager (auto: launchd on macOS, systemd elsewhere).",
)
dry_run_option = click.option(
    "--dry-run", "-n", is_flag=True, help="Print the file and the commands; change nothing."
)


@cli.group()
@common_options
def service() -> None:
    """Run `workspace-sync watch` as a user service (systemd on Linux, launchd on macOS)."""


@service.command()
@dry_run_option
@manager_option
@common_options
@click.pass_context
def install(ctx: click.Context, dry_run: bool, manager: str) -> None:
    """Write the unit/agent for this config and start it (restarted on failure, at login or,
    with lingering, at boot)."""
    plan = _load_plan(ctx, manager, dry_run)
    hint = _linger_hint() if plan.manager == "systemd" else None
    if dry_run:
        _show(plan, plan.install, write=True)
        if hint:
            click.echo(f"# {hint}")
        return
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    plan.path.write_text(plan.content, encoding="utf-8")
    if plan.manager == "launchd":
        (Path.home() / "Library" / "Logs" / "workspace-sync").mkdir(parents=True, exist_ok=True)
    _run_all(plan, plan.install)
    click.echo(f"installed and started {plan.path}")
    click.echo(f"logs: {plan.logs}")
    if hint:
        click.echo(hint)


@service.command()
@dry_run_option
@manager_option
@common_options
@click.pass_context
def uninstall(ctx: click.Context, dry_run: bool, manager: str) -> None:
    """Stop the service and remove its unit/agent file."""
    plan = _load_plan(ctx, manager, dry_run)
    stop, reload = plan.uninstall[:1], plan.uninstall[1:]
    if dry_run:
        _show(plan, stop, write=False)
        click.echo(f"rm -f {shlex.quote(str(plan.path))}")
        for argv in reload:
            click.echo(shlex.join(argv))
        return
    _run_all(plan, stop)
    existed = plan.path.exists()
    plan.path.unlink(missing_ok=True)
    _run_all(plan, reload)
    click.echo(f"removed {plan.path}" if existed else f"{plan.path} was not installed")


@service.command(name="status")
@dry_run_option
@manager_option
@common_options
@click.pass_context
def service_status(ctx: click.Context, dry_run: bool, manager: str) -> None:
    """Whether the unit/agent is installed, and what the service manager says about it."""
    plan = _load_plan(ctx, manager, dry_run)
    if dry_run:
        _show(plan, plan.status, write=False)
        return
    click.echo(f"{plan.path}: {'installed' if plan.path.exists() else 'not installed'}")
    for argv in plan.status:
        done = _run_one(argv)
        click.echo((done.stdout or done.stderr).rstrip("\n"))
    click.echo(f"logs: {plan.logs}")
