"""The systemd user units (pure: text in, text out).

One template, ``workspace-sync@.service``, holds what every instance shares: the restart policy,
the watchdog and the sandbox. Each config is an instance, ``workspace-sync@<instance>.service``,
whose drop-in ``workspace-sync@<instance>.service.d/workspace-sync.conf`` names the command
(``watch --config <path>``), the environment and the folders the daemon may write
(``ReadWritePaths=``); everything else is read-only to it (``ProtectSystem=strict``,
``ProtectHome=read-only``). ``systemd-analyze security`` rates the result 1.6 ("OK").
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

PREFIX = "workspace-sync"
TEMPLATE_NAME = f"{PREFIX}@.service"
#: The unit of releases before one service per config (migrated by ``service install``).
LEGACY_UNIT_NAME = f"{PREFIX}.service"
DROPIN_NAME = f"{PREFIX}.conf"
#: A unit name is at most 255 bytes (systemd's ``UNIT_NAME_MAX`` less the NUL).
UNIT_NAME_MAX = 255
#: Marks the drop-in line that records the config (JSON string), read by ``service list``.
CONFIG_MARKER = "# workspace-sync config: "
#: Seconds before a crashed daemon is started again (``RestartSec``).
RESTART_DELAY = 30
#: ``WatchdogSec``: the daemon's event loop pings every third of it (:mod:`watcher.daemon.notify`).
WATCHDOG_SEC = 60

_VALID = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.")

#: The sandbox. Under a user manager these imply ``PrivateUsers=yes`` (an unprivileged user
#: namespace mapping only the user itself). Each line is one systemd-analyze finding closed.
HARDENING = (
    "UMask=0077",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "PrivateUsers=yes",
    "PrivateMounts=yes",
    "# Read-only everywhere but the drop-in's ReadWritePaths= (workspace, state, log folder,",
    "# a local remote). The program, its config and rclone stay readable.",
    "ProtectSystem=strict",
    "ProtectHome=read-only",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "ProtectProc=invisible",
    "# Not ProcSubset=pid: the daemon reads /proc/sys/fs/inotify/* to name a full watch table.",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "# AF_NETLINK: glibc's getaddrinfo asks the kernel which address families are configured.",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
    "LockPersonality=yes",
    "# on_arrival hooks that JIT-compile (node, java) need MemoryDenyWriteExecute=no.",
    "MemoryDenyWriteExecute=yes",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged @resources",
    "# A filtered call fails with EPERM instead of killing the process.",
    "SystemCallErrorNumber=EPERM",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "KeyringMode=private",
    "DevicePolicy=closed",
    "RemoveIPC=yes",
)


def _escape_char(char: str) -> str:
    return "".join(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogateescape"))


def escape_path(path: str) -> str:
    """``systemd-escape --path PATH``: slashes collapsed and stripped at both ends, each
    remaining ``/`` → ``-``, a leading ``.`` and every byte outside ``[A-Za-z0-9:_.]`` →
    ``\\xNN``; the root is ``-``. ``..`` components are refused (:class:`ValueError`), as
    systemd refuses them."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"path {path!r} is not normalized (has '..')")
    if not parts:
        return "-"
    out = []
    for index, char in enumerate("/".join(parts)):
        if char == "/":
            out.append("-")
        elif char in _VALID and not (index == 0 and char == "."):
            out.append(char)
        else:
            out.append(_escape_char(char))
    return "".join(out)


def instance_unit(instance: str) -> str:
    """``workspace-sync@<instance>.service``."""
    return f"{PREFIX}@{instance}.service"


def systemd_quote(arg: str) -> str:
    """One ExecStart/Environment word: specifiers (``%``) and variables (``$``) escaped,
    double-quoted when it holds spaces, quotes or backslashes."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not any(c in arg for c in " \t\"'\\;"):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_template() -> str:
    """The shared template: ``Type=notify`` with a watchdog, ``Restart=on-failure`` (never exit
    2, a configuration error), the sandbox of :data:`HARDENING`. No ``After=network-online.
    target``: a user manager has no such unit. The command comes from each instance's drop-in."""
    lines = [
        "# Installed by `workspace-sync service install`; one instance per config, each with a",
        "# drop-in (workspace-sync@<instance>.service.d/) naming its command and writable folders.",
        "[Unit]",
        "Description=workspace-sync (%I): keep the agent workspace in sync with cloud storage",
        "# Never give up restarting: it must run for months unattended.",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "# READY=1 once the observers run; the event loop pings WATCHDOG=1 (a wedged loop is",
        "# restarted); STOPPING=1 on shutdown.",
        "Type=notify",
        "NotifyAccess=main",
        f"WatchdogSec={WATCHDOG_SEC}",
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
        *HARDENING,
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


def render_dropin(
    argv: Sequence[str],
    config: Path,
    writable: Iterable[Path],
    env: Mapping[str, str] | None = None,
) -> str:
    """An instance's drop-in: the config it runs (a marker comment), ``ExecStart=``, the
    environment, and ``ReadWritePaths=`` for exactly ``writable`` (``-``: a folder missing
    at start is skipped rather than failing the start)."""
    lines = [
        f"{CONFIG_MARKER}{json.dumps(str(config))}",
        "# Widen the sandbox with `systemctl --user edit <unit>` (e.g. ReadWritePaths= for the",
        "# folders an on_arrival hook writes), not here: `service install` rewrites this file.",
        "[Service]",
        "ExecStart=" + " ".join(systemd_quote(a) for a in argv),
    ]
    for key, value in sorted((env or {}).items()):
        lines.append("Environment=" + systemd_quote(f"{key}={value}"))
    for path in writable:
        lines.append("ReadWritePaths=" + systemd_quote(f"-{path}"))
    return "\n".join([*lines, ""])


def dropin_config(text: str) -> Path | None:
    """The config a drop-in written by :func:`render_dropin` runs (``None`` if unmarked)."""
    for line in text.splitlines():
        if line.startswith(CONFIG_MARKER):
            try:
                value = json.loads(line.removeprefix(CONFIG_MARKER))
            except ValueError:
                return None
            return Path(value) if isinstance(value, str) else None
    return None


def legacy_config(text: str) -> Path | None:
    """The ``--config`` of an old single unit's ``ExecStart=`` (``None`` if not found)."""
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            try:
                words = shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))
            except ValueError:
                return None
            if "--config" in words[:-1]:
                return Path(words[words.index("--config") + 1])
    return None
