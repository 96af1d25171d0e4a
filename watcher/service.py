"""The user services that run ``workspace-sync watch``, one per config (pure: renders files and
commands; :mod:`watcher.cli.service_cmds` does the side effects).

Linux: the systemd template ``~/.config/systemd/user/workspace-sync@.service`` plus one instance
per config with its drop-in (:mod:`watcher.systemd_unit`), driven by ``systemctl --user``. macOS:
one launchd agent per config, ``~/Library/LaunchAgents/io.github.workspace-sync.<instance>.plist``,
loaded with ``launchctl bootstrap gui/<uid>``. The instance is ``--name`` or the
``systemd-escape --path`` form of the config's absolute path.
"""

from __future__ import annotations

import hashlib
import plistlib
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from watcher.config import Config
from watcher.errors import UsageError
from watcher.systemd_unit import (
    DROPIN_NAME,
    LEGACY_UNIT_NAME,
    RESTART_DELAY,
    TEMPLATE_NAME,
    UNIT_NAME_MAX,
    escape_path,
    instance_unit,
    render_dropin,
    render_template,
    systemd_quote,
)

Manager = Literal["systemd", "launchd"]

LABEL = "io.github.workspace-sync"
#: Set in the launchd agent's environment: launchd has no ``RestartPreventExitStatus``
#: (``KeepAlive`` ``SuccessfulExit = false`` restarts every non-zero exit), so there ``watch``
#: exits 0 instead of 2 on a configuration error (see :mod:`watcher.entry`).
SERVICE_ENV = "WORKSPACE_SYNC_SERVICE"
#: Set in the launchd agent's environment: the rotated file the daemon logs to instead of
#: stderr (launchd's ``StandardErrorPath`` is never rotated; see :mod:`watcher.log`).
SERVICE_LOG_ENV = "WORKSPACE_SYNC_SERVICE_LOG"
#: Variables copied into the service environment when set at install time, so that the service
#: uses the same state dir (``status`` finds its daemon) and the same rclone.
PASSED_ENV = (
    "WORKSPACE_SYNC_RCLONE",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
)
#: What ``--name`` accepts (a systemd instance and a launchd label part alike).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")

LINGER_HINT = (
    "On a headless gateway (no login session), let the service start at boot and keep running "
    "after logout: sudo loginctl enable-linger {user}"
)

__all__ = ["systemd_quote"]


def watch_argv(program: Sequence[str], config: Path) -> list[str]:
    """The service's command line: ``PROGRAM watch --config CONFIG`` (absolute paths)."""
    return [*program, "watch", "--config", str(config)]


def foreground_command(program: Sequence[str], config: Path) -> str:
    """The same command as a shell line, for where no service manager runs."""
    return shlex.join(watch_argv(program, config))


def instance_name(config: Path, name: str | None) -> str:
    """The instance for ``config``: ``name`` when given (checked against
    :data:`NAME_PATTERN`; :class:`~watcher.errors.UsageError` otherwise), else the
    ``systemd-escape --path`` form of the config's path; a path too long for a unit name keeps
    its escaped tail behind a hash of the whole path (still one name per config)."""
    if name is not None:
        if not NAME_PATTERN.fullmatch(name):
            raise UsageError(
                f"--name {name!r} is not a valid service name; use 1-64 letters, digits, "
                "'_', '.', ':' or '-', starting with a letter or digit"
            )
        return name
    instance = escape_path(str(config))
    room = UNIT_NAME_MAX - len(instance_unit("").encode())
    if len(instance) <= room:
        return instance
    digest = hashlib.sha256(str(config).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    tail = instance[-(room - len(digest) - 1) :]
    if "-" in tail:
        tail = tail[tail.index("-") + 1 :]  # start at a path component
    return f"{digest}-{tail}"


def _label(instance: str) -> str:
    return f"{LABEL}.{instance}"


def writable_paths(cfg: Config, state_base: Path) -> list[Path]:
    """The folders the service may write (``ReadWritePaths=``): the workspace, the tool's state
    dir, the log file's folder, a local remote's folder and a custom rclone.conf's folder
    (rclone writes refreshed tokens there); none nested in another listed one."""
    found = [cfg.workspace, state_base]
    if cfg.log_file is not None:
        found.append(cfg.log_file.parent)
    local = cfg.provider_options.get("path") if cfg.provider == "local" else None
    if isinstance(local, (str, Path)):
        found.append(Path(local))
    if cfg.rclone_config is not None:
        found.append(cfg.rclone_config.parent)
    kept: list[Path] = []
    for path in found:
        if not any(path == k or path.is_relative_to(k) for k in kept):
            kept = [k for k in kept if not k.is_relative_to(path)] + [path]
    return kept


def render_launchd_plist(
    argv: Sequence[str], label: str, log: Path, env: Mapping[str, str] | None = None
) -> str:
    """The launchd agent running ``argv`` at login, restarted when it exits with an error (a
    configuration error exits 0 there: :data:`SERVICE_ENV`). ``ProcessType`` ``Standard``: a
    ``Background`` job gets throttled CPU and IO, too slow for near-real-time sync. The daemon
    logs to ``log``, rotated (:data:`SERVICE_LOG_ENV`); launchd's own, never rotated, file
    beside it only gets what is printed outside logging (a configuration error, a crash)."""
    early = log.with_suffix(".stderr.log")
    agent = {
        "Label": label,
        "ProgramArguments": list(argv),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": RESTART_DELAY,
        "ProcessType": "Standard",
        "StandardOutPath": str(early),
        "StandardErrorPath": str(early),
        "EnvironmentVariables": {
            "PYTHONUNBUFFERED": "1",
            SERVICE_ENV: "launchd",
            SERVICE_LOG_ENV: str(log),
            **(env or {}),
        },
    }
    return plistlib.dumps(agent, sort_keys=False).decode()


@dataclass(frozen=True)
class ServicePlan:
    """What ``service install|uninstall|status`` writes and runs for one config's instance."""

    manager: Manager
    instance: str
    #: The systemd unit name or the launchd label.
    unit: str
    #: The instance's own file (drop-in or plist): present means installed.
    path: Path
    #: Every file install writes, in order (the shared template first).
    files: tuple[tuple[Path, str], ...]
    install: tuple[tuple[str, ...], ...]
    stop: tuple[tuple[str, ...], ...]
    #: Run after the files are removed (``daemon-reload``).
    after_remove: tuple[tuple[str, ...], ...]
    status: tuple[tuple[str, ...], ...]
    #: Where the daemon's output goes.
    logs: str
    #: Commands whose failure is expected when the service is not loaded (unloading first).
    tolerated: frozenset[tuple[str, ...]] = frozenset()

    @property
    def remove(self) -> tuple[Path, ...]:
        """Files uninstall removes: the instance's own (the template goes with the last one)."""
        return (self.path,)


def systemd_dir(home: Path) -> Path:
    """``~/.config/systemd/user``."""
    return home / ".config" / "systemd" / "user"


def plan_systemd(
    instance: str,
    argv: Sequence[str],
    config: Path,
    *,
    home: Path,
    writable: Iterable[Path],
    env: Mapping[str, str] | None = None,
) -> ServicePlan:
    """The template, the instance's drop-in and the ``systemctl --user`` commands."""
    unit = instance_unit(instance)
    folder = systemd_dir(home)
    dropin = folder / f"{unit}.d" / DROPIN_NAME
    ctl = ("systemctl", "--user")
    return ServicePlan(
        "systemd",
        instance,
        unit,
        dropin,
        files=(
            (folder / TEMPLATE_NAME, render_template()),
            (dropin, render_dropin(argv, config, writable, env)),
        ),
        install=((*ctl, "daemon-reload"), (*ctl, "enable", unit), (*ctl, "restart", unit)),
        stop=((*ctl, "disable", "--now", unit),),
        after_remove=((*ctl, "daemon-reload"),),
        status=((*ctl, "--no-pager", "status", unit),),
        logs=f"journalctl --user -u {shlex.quote(unit)} -f",
        tolerated=frozenset({(*ctl, "disable", "--now", unit)}),
    )


def launchd_dirs(home: Path) -> tuple[Path, Path]:
    """``~/Library/LaunchAgents`` and the log folder ``~/Library/Logs/workspace-sync``."""
    return home / "Library" / "LaunchAgents", home / "Library" / "Logs" / "workspace-sync"


def plan_launchd(
    instance: str, argv: Sequence[str], *, home: Path, uid: int, env: Mapping[str, str] | None
) -> ServicePlan:
    """The instance's agent plist and the ``launchctl`` commands."""
    label = _label(instance)
    agents, log_dir = launchd_dirs(home)
    plist = agents / f"{label}.plist"
    log = log_dir / f"{instance}.log"
    target = f"gui/{uid}/{label}"
    bootout = ("launchctl", "bootout", target)
    return ServicePlan(
        "launchd",
        instance,
        label,
        plist,
        files=((plist, render_launchd_plist(argv, label, log, env)),),
        install=(bootout, ("launchctl", "bootstrap", f"gui/{uid}", str(plist))),
        stop=(bootout,),
        after_remove=(),
        status=(("launchctl", "print", target),),
        logs=f"tail -f {shlex.quote(str(log))}",
        tolerated=frozenset({bootout}),
    )


def legacy_paths(manager: Manager, home: Path, uid: int) -> tuple[Path, tuple[str, ...]]:
    """The single service of releases before one per config, and the command that stops it."""
    if manager == "systemd":
        unit = systemd_dir(home) / LEGACY_UNIT_NAME
        return unit, ("systemctl", "--user", "disable", "--now", LEGACY_UNIT_NAME)
    plist = launchd_dirs(home)[0] / f"{LABEL}.plist"
    return plist, ("launchctl", "bootout", f"gui/{uid}/{LABEL}")
