"""What the ``service`` commands find on disk and run: installed instances, the old single
service, ``systemctl --user`` / ``launchctl`` calls (the files and commands themselves come
from :mod:`watcher.service`, pure)."""

from __future__ import annotations

import contextlib
import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from watcher.errors import CommandFailed
from watcher.service import LABEL, Manager, launchd_dirs, legacy_paths, systemd_dir
from watcher.systemd_unit import DROPIN_NAME, PREFIX, dropin_config, legacy_config

#: Seconds a ``systemctl``/``launchctl``/``loginctl`` call may take.
MANAGER_TIMEOUT = 30.0


@dataclass(frozen=True)
class Installed:
    """One installed instance: its name, the config it runs (``None`` if unreadable), its file."""

    instance: str
    config: Path | None
    path: Path


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def plist_config(path: Path) -> Path | None:
    """The ``--config`` in a launchd agent's ``ProgramArguments`` (``None`` if unreadable)."""
    try:
        args = plistlib.loads(path.read_bytes()).get("ProgramArguments", [])
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(args, list) and "--config" in args[:-1]:
        return Path(str(args[args.index("--config") + 1]))
    return None


def installed(manager: Manager, home: Path) -> list[Installed]:
    """Every instance installed for ``manager`` under ``home``, sorted by name."""
    found: list[Installed] = []
    if manager == "systemd":
        prefix, suffix = f"{PREFIX}@", ".service.d"
        for folder in sorted(systemd_dir(home).glob(f"{prefix}*{suffix}")):
            dropin = folder / DROPIN_NAME
            instance = folder.name[len(prefix) : -len(suffix)]
            if dropin.is_file() and instance:
                found.append(Installed(instance, dropin_config(_read(dropin)), dropin))
        return found
    prefix = f"{LABEL}."
    for plist in sorted(launchd_dirs(home)[0].glob(f"{prefix}*.plist")):
        instance = plist.name[len(prefix) : -len(".plist")]
        found.append(Installed(instance, plist_config(plist), plist))
    return found


def legacy(manager: Manager, home: Path, uid: int) -> tuple[Path, Path | None, tuple[str, ...]]:
    """The old single service's file, the config it runs and the command that stops it."""
    path, stop = legacy_paths(manager, home, uid)
    if not path.is_file():
        return path, None, stop
    config = legacy_config(_read(path)) if manager == "systemd" else plist_config(path)
    return path, config, stop


def quiet_ok(argv: Sequence[str]) -> bool:
    """Whether ``argv`` runs and exits 0 (output discarded)."""
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
    if shutil.which("systemctl") and quiet_ok(["systemctl", "--user", "show-environment"]):
        return "systemd"
    return None


def run_one(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a service-manager command; one line and exit 1 when it cannot run at all."""
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=MANAGER_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CommandFailed(f"`{shlex.join(argv)}` failed: {exc}") from None


def run_all(commands: Sequence[Sequence[str]], tolerated: frozenset[tuple[str, ...]]) -> None:
    """Run ``commands`` in order; the first failure not in ``tolerated`` is one line, exit 1."""
    for argv in commands:
        done = run_one(argv)
        if done.returncode != 0 and tuple(argv) not in tolerated:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise CommandFailed(
                f"`{shlex.join(argv)}` exited {done.returncode}"
                + (f": {detail[-1]}" if detail else "")
            )


def manager_state(manager: Manager, unit: str, uid: int) -> str:
    """What the service manager says of ``unit``: ``active (running)``, ``inactive (dead)``,
    ``failed (failed)``… for systemd, ``loaded``/``not loaded`` for launchd."""
    if manager == "launchd":
        return "loaded" if quiet_ok(["launchctl", "print", f"gui/{uid}/{unit}"]) else "not loaded"
    argv = ["systemctl", "--user", "show", "--property=ActiveState,SubState", "--value", unit]
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=MANAGER_TIMEOUT / 3, check=False
        )
        words = done.stdout.split()
        if done.returncode == 0 and len(words) == 2:
            return f"{words[0]} ({words[1]})"
    return "unknown"


def write_file(path: Path, content: str) -> None:
    """Write a unit/agent file (its folder made as needed), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(content, encoding="utf-8")
    tmp.replace(path)
