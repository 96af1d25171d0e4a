"""Run ``python -m watcher`` as the unprivileged user ``nobody`` from any checkout.

A checkout (and its venv) under a 0700 folder cannot be read by ``nobody`` ("No module named
watcher"). So the package, its runtime dependencies (from their installed file lists) and the
rclone binary are copied into a world-readable folder, and the first interpreter ``nobody`` can
run that imports the copy is used; when none can, the test is skipped with the reason.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

import watcher

#: What the copy must import for ``python -m watcher sync`` to run.
_PROBE = "import watcher.cli, watcher.engine, watcher.daemon"


@dataclass(frozen=True)
class NobodyRuntime:
    """An interpreter and the environment with which ``nobody`` runs the copied tool."""

    python: str
    env: dict[str, str]


def _requirements(name: str) -> list[str]:
    """The names of the runtime requirements (no extras; markers evaluated here) of the
    installed distribution ``name``."""
    names = []
    for spec in metadata.distribution(name).requires or []:
        requirement = Requirement(spec)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.append(requirement.name)
    return names


def _closure(root: str = "workspace-sync") -> list[metadata.Distribution]:
    """The installed distributions ``root`` needs at run time (itself excluded)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = _requirements(root)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen[key] = metadata.distribution(name)
        todo += _requirements(name)
    return list(seen.values())


def _copy(src: Path, dst: Path) -> None:
    """``src`` at ``dst``, readable by all: a hard link when ``src`` already is (fast; only
    its folders were in the way), else a copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    mode = src.stat().st_mode
    executable = bool(mode & 0o100)
    if mode & 0o004 and (mode & 0o001 or not executable):
        try:
            os.link(src, dst)
            return
        except OSError:  # another file system, or links not allowed here
            pass
    shutil.copyfile(src, dst)
    dst.chmod(0o755 if executable else 0o644)


def _copy_tree(site: Path) -> None:
    """The package and every file its dependencies installed under site-packages (scripts,
    which lie outside it, and bytecode left out)."""
    package = Path(watcher.__file__).parent
    for path in package.rglob("*.py"):
        _copy(path, site / "watcher" / path.relative_to(package))
    for dist in _closure():
        for file in dist.files or []:
            if ".." in file.parts or "__pycache__" in file.parts:
                continue
            located = Path(str(file.locate()))
            if located.is_file():
                _copy(located, site / Path(*file.parts))


def _as_nobody(uid: int, gid: int, argv: list[str]) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv]


def build_runtime(dest: Path, rclone: str, uid: int, gid: int) -> NobodyRuntime | str:
    """Copy the tool into ``dest`` (made world-readable) and find an interpreter with which
    ``uid``/``gid`` import it; the runtime, or the reason why there is none."""
    site = dest / "site"
    _copy_tree(site)
    _copy(Path(rclone), dest / "rclone")
    for folder in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)
    env = {
        "PYTHONPATH": str(site),
        "PYTHONDONTWRITEBYTECODE": "1",
        "WORKSPACE_SYNC_RCLONE": str(dest / "rclone"),
    }
    tried = []
    base = getattr(sys, "_base_executable", "")
    for python in dict.fromkeys([sys.executable, os.path.realpath(sys.executable), base]):
        if not python:
            continue
        probe = subprocess.run(
            _as_nobody(uid, gid, [python, "-c", _PROBE]),
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", ""), **env},
            cwd="/",
            timeout=60,
            check=False,
        )
        if probe.returncode == 0:
            return NobodyRuntime(python, env)
        lines = (probe.stderr.strip() or f"exit {probe.returncode}").splitlines()
        tried.append(f"{python}: {lines[-1]}")
    return "no interpreter that user nobody can run imports the tool: " + "; ".join(tried)
