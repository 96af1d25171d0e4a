"""How ``setup``, ``authorize`` and ``import-openclaw`` write ``sync.toml`` and its secrets file
without ever destroying a working one.

Everything is rendered and validated in memory first (the config text parsed with the secrets
it will have, merged over the secrets file already there); only then are the files written, each
by :func:`~watcher.fsutil.atomic_write` (temp file, fsync, rename: a crash leaves the old file or
the new one, never part of one), secrets first, then the config that names them. When a later
write fails, the files written before it get their previous bytes and mode back (or are removed
when they did not exist), so a failure leaves every file as it was.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from watcher.config import Config, parse_config
from watcher.config.envrefs import with_placeholders
from watcher.config.load import read_toml
from watcher.errors import CommandFailed, ConfigError, UsageError, WorkspaceSyncError
from watcher.fsutil import WriteFailed, atomic_write
from watcher.rclone.conffile import check_values, render_section
from watcher.wizard import Plan, render_config, render_secrets

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

#: Mode of a new sync.toml (it holds no secrets; an existing file keeps its own mode).
CONFIG_MODE = 0o644
SECRETS_MODE = 0o600


@dataclass(frozen=True)
class FileWrite:
    """One file to write: its path, full new content and permission bits."""

    path: Path
    text: str
    mode: int


@dataclass(frozen=True)
class _Before:
    """A file as it was before a write: its bytes (``None`` when absent) and mode."""

    path: Path
    data: bytes | None
    mode: int


def secrets_path_for(config_path: Path) -> Path:
    """The secrets file created beside ``config_path`` (``sync.toml`` → ``sync.secrets.toml``)."""
    return config_path.with_name(f"{config_path.stem}.secrets.toml")


def read_secrets(path: Path) -> dict[str, Any]:
    """The tables of the secrets file at ``path`` (``{}`` when there is none); a file that
    cannot be read or parsed raises :class:`ConfigError` (so it is never overwritten blindly)."""
    if not path.exists():
        return {}
    return read_toml(path, "secrets")


def merge_secrets(
    current: Mapping[str, Any], new: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """``current`` with every key of ``new`` set over it; tables and keys not in ``new`` are
    kept (a token stored by an earlier ``authorize`` survives a new ``setup``)."""
    merged: dict[str, Any] = {
        table: dict(values) if isinstance(values, dict) else values
        for table, values in current.items()
    }
    for table, values in new.items():
        target = merged.setdefault(table, {})
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                target[key] = {**target[key], **value}
            else:
                target[key] = value
    return merged


def existing_mode(path: Path, default: int) -> int:
    """The permission bits of ``path``, or ``default`` when it does not exist."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return default


def link_secrets_text(text: str, config_path: Path, secrets_path: Path) -> str:
    """``text`` of a sync.toml with ``secrets_file = "..."`` added before its first table,
    keeping its comments."""
    try:
        ref = secrets_path.relative_to(config_path.parent).as_posix()
    except ValueError:
        ref = str(secrets_path)
    line = f"secrets_file = {json.dumps(ref)}\n"
    match = re.search(r"^[ \t]*\[", text, flags=re.M)
    if match:
        return text[: match.start()] + line + "\n" + text[match.start() :]
    return text + ("" if text.endswith("\n") or not text else "\n") + line


def validate(
    text: str,
    config_path: Path,
    secrets: Mapping[str, Any] | None,
    *,
    unset_ok: bool = False,
) -> Config:
    """Load ``text`` as the config at ``config_path`` with ``secrets`` as its secrets file's
    content, and render its rclone remote, without touching any file; raises
    :class:`ConfigError` naming the problem. With ``unset_ok``, a ``${VAR}`` that is not set
    now is validated as a placeholder (the file keeps the reference)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: invalid TOML: {exc}") from None
    if unset_ok:
        raw = with_placeholders(raw)
        secrets = None if secrets is None else with_placeholders(dict(secrets))
    cfg = parse_config(raw, config_path, secrets)
    if cfg.provider != "off":
        section = render_section(cfg)
        if cfg.provider != "custom":  # custom secrets are checked once obscured
            check_values(cfg, section)
    return cfg


def _before(path: Path) -> _Before:
    """``path`` as it is now; one that exists but cannot be read (a folder, no permission)
    raises :class:`WriteFailed` before anything is written, since it could not be put back."""
    try:
        return _Before(path, path.read_bytes(), path.stat().st_mode & 0o777)
    except FileNotFoundError:
        return _Before(path, None, 0)
    except OSError as exc:
        raise WriteFailed(path, exc) from exc


def _restore(before: _Before) -> None:
    try:
        if before.data is None:
            before.path.unlink(missing_ok=True)
        else:
            atomic_write(before.path, before.data, mode=before.mode)
    except OSError as exc:  # the original failure is what the user sees
        logger.error("could not put back {}: {}", before.path, exc)


def write_files(writes: Sequence[FileWrite]) -> None:
    """Write each file atomically, in order; when one fails, the ones written before it get
    their previous content back and :class:`~watcher.fsutil.WriteFailed` is raised."""
    previous = [_before(write.path) for write in writes]
    for index, write in enumerate(writes):
        try:
            atomic_write(write.path, write.text, mode=write.mode)
        except BaseException:  # a full disk, or Ctrl-C between the two writes
            for before in reversed(previous[:index]):
                _restore(before)
            raise


@dataclass(frozen=True)
class Written:
    """What :func:`write_plan` wrote: the config as loaded, the secrets file (if any) and the
    earlier secrets it kept (``table.key`` names, never values)."""

    cfg: Config
    secrets_path: Path | None
    kept: tuple[str, ...]


def _kept(current: Mapping[str, Any], new: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(
        f"{table}.{key}"
        for table, values in current.items()
        if isinstance(values, dict)
        for key in values
        if key not in new.get(table, {})
    )


def write_plan(plan: Plan, output: Path, *, unset_ok: bool = False) -> Written:
    """Render sync.toml and its secrets (merged over the secrets file already beside it),
    validate both in memory, then write them (secrets first); exit 2 with nothing written when
    the result would not load, exit 1 with every file as it was when a write fails.
    ``unset_ok``: ``${VAR}`` references need not be set now (see :func:`validate`)."""
    secrets_path = secrets_path_for(output)
    try:
        current = read_secrets(secrets_path)
        secrets = merge_secrets(current, plan.secrets)
        if any(secrets.values()):
            plan.values["secrets_file"] = secrets_path.name
        text = render_config(plan.values, plan.tables)
        given = secrets if "secrets_file" in plan.values else None
        cfg = validate(text, output, given, unset_ok=unset_ok)
    except WorkspaceSyncError as exc:
        raise UsageError(f"nothing written: the resulting config would not load: {exc}") from None
    writes = []
    if any(plan.secrets.values()):
        writes.append(FileWrite(secrets_path, render_secrets(secrets), SECRETS_MODE))
    writes.append(FileWrite(output, text, existing_mode(output, CONFIG_MODE)))
    try:
        write_files(writes)
    except WriteFailed as exc:
        raise CommandFailed(f"nothing written: {exc}; every file is as it was") from None
    written = secrets_path if len(writes) == 2 else None
    return Written(cfg, written, _kept(current, plan.secrets))
