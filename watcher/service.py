"""The user service that runs ``workspace-sync watch`` (pure: renders files and commands).

Linux: a systemd user unit, ``~/.config/systemd/user/workspace-sync.service``, started with
``systemctl --user``. macOS: a launchd agent, ``~/Library/LaunchAgents/<LABEL>.plist``, loaded
with ``launchctl bootstrap gui/<uid>``. :mod:`watcher.cli.service_cmds` does the side effects.
"""

from __future__ import annotations

import plistlib
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Manager = Literal["systemd", "launchd"]

UNIT_NAME = "workspace-sync.service"
LABEL = "io.github.workspace-sync"
#: Seconds before a crashed daemon is started again (systemd ``RestartSec``, launchd
#: ``ThrottleInterval``).
RESTART_DELAY = 30
#: systemd ``WatchdogSec``: the daemon's event loop pings every third of it
#: (:mod:`watcher.daemon.notify`); a loop that stops pinging is restarted.
WATCHDOG_SEC = 60
#: Set in the launchd agent's environment: launchd has no ``RestartPreventExitStatus``
#: (``KeepAlive`` ``SuccessfulExit = false`` restarts every non-zero exit), so there ``watch``
#: exits 0 instead of 2 on a configuration error (see :mod:`watcher.entry`).
SERVICE_ENV = "WORKSPACE_SYNC_SERVICE"
#: Variables copied into the service environment when set at install time, so that the service
#: uses the same state dir (``status`` finds its daemon) and the same rclone.
PASSED_ENV = (
    "WORKSPACE_SYNC_RCLONE",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
)

LINGER_HINT = (
    "On a headless gateway (no login session), let the service start at boot and keep running "
    "after logout: sudo loginctl enable-linger {user}"
)


def watch_argv(program: Sequence[str], config: Path) -> list[str]:
    """The service's command line: ``PROGRAM watch --config CONFIG`` (absolute paths)."""
    return [*program, "watch", "--config", str(config)]


def foreground_command(program: Sequence[str], config: Path) -> str:
    """The same command as a shell line, for where no service manager runs."""
    return shlex.join(watch_argv(program, config))


def systemd_quote(arg: str) -> str:
    """One ExecStart/Environment word: specifiers (``%``) and variables (``$``) escaped,
    double-quoted when it holds spaces, quotes or backslashes."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not any(c in arg for c in " \t\"'\\;"):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_systemd_unit(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """The systemd user unit running ``argv`` (``Type=notify`` with a watchdog,
    ``Restart=on-failure``; exit 2, a configuration error, is not retried)."""
    lines = [
        "# Installed by `workspace-sync service install`; remove with `service uninstall`.",
        "[Unit]",
        "Description=workspace-sync: keep the agent workspace in sync with cloud storage",
        "After=network-online.target",
        "# Never give up restarting: it must run for months unattended.",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "# READY=1 once the observers run; the event loop pings WATCHDOG=1 (a wedged loop is",
        "# restarted); STOPPING=1 on shutdown.",
        "Type=notify",
        "NotifyAccess=main",
        f"WatchdogSec={WATCHDOG_SEC}",
        "ExecStart=" + " ".join(systemd_quote(a) for a in argv),
        "# `systemctl --user reload`: the daemon rereads its config (SIGHUP).",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        f"RestartSec={RESTART_DELAY}",
        "# Exit 2 is a configuration error: restarting cannot fix it.",
        "RestartPreventExitStatus=2",
        "# SIGTERM to the daemon only; it stops its rclone itself (SIGKILL after 5 s).",
        "KillMode=mixed",
        "TimeoutStopSec=60",
        "Environment=PYTHONUNBUFFERED=1",
    ]
    for key, value in sorted((env or {}).items()):
        lines.append("Environment=" + systemd_quote(f"{key}={value}"))
    lines += ["", "[Install]", "WantedBy=default.target", ""]
    return "\n".join(lines)


def render_launchd_plist(
    argv: Sequence[str], log_dir: Path, env: Mapping[str, str] | None = None
) -> str:
    """The launchd agent running ``argv`` at login, restarted when it exits with an error (a
    configuration error exits 0 there: :data:`SERVICE_ENV`)."""
    agent = {
        "Label": LABEL,
        "ProgramArguments": list(argv),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": RESTART_DELAY,
        "ProcessType": "Background",
        "StandardOutPath": str(log_dir / "watch.log"),
        "StandardErrorPath": str(log_dir / "watch.log"),
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1", SERVICE_ENV: "launchd", **(env or {})},
    }
    return plistlib.dumps(agent, sort_keys=False).decode()


@dataclass(frozen=True)
class ServicePlan:
    """What ``service install|uninstall|status`` writes and runs for one manager."""

    manager: Manager
    path: Path
    content: str
    install: tuple[tuple[str, ...], ...]
    uninstall: tuple[tuple[str, ...], ...]
    status: tuple[tuple[str, ...], ...]
    #: Where the daemon's output goes.
    logs: str
    #: Commands whose failure is expected when the service is not loaded (unloading first).
    tolerated: frozenset[tuple[str, ...]] = frozenset()


def plan_service(
    manager: Manager,
    argv: Sequence[str],
    *,
    home: Path,
    uid: int,
    env: Mapping[str, str] | None = None,
) -> ServicePlan:
    """Files and commands for ``manager`` (paths under ``home``; launchd domain of ``uid``)."""
    if manager == "systemd":
        ctl = ("systemctl", "--user")
        return ServicePlan(
            manager,
            home / ".config" / "systemd" / "user" / UNIT_NAME,
            render_systemd_unit(argv, env),
            install=(
                (*ctl, "daemon-reload"),
                (*ctl, "enable", UNIT_NAME),
                (*ctl, "restart", UNIT_NAME),
            ),
            uninstall=((*ctl, "disable", "--now", UNIT_NAME), (*ctl, "daemon-reload")),
            status=((*ctl, "--no-pager", "status", UNIT_NAME),),
            logs=f"journalctl --user -u {UNIT_NAME} -f",
            tolerated=frozenset({(*ctl, "disable", "--now", UNIT_NAME)}),
        )
    plist = home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    log_dir = home / "Library" / "Logs" / "workspace-sync"
    domain = f"gui/{uid}"
    return ServicePlan(
        manager,
        plist,
        render_launchd_plist(argv, log_dir, env),
        install=(
            ("launchctl", "bootout", f"{domain}/{LABEL}"),
            ("launchctl", "bootstrap", domain, str(plist)),
        ),
        uninstall=(("launchctl", "bootout", f"{domain}/{LABEL}"),),
        status=(("launchctl", "print", f"{domain}/{LABEL}"),),
        logs=f"tail -f {shlex.quote(str(log_dir / 'watch.log'))}",
        tolerated=frozenset({("launchctl", "bootout", f"{domain}/{LABEL}")}),
    )
