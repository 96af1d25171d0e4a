"""Find, parse and validate ``sync.toml`` into a frozen :class:`~watcher.config.model.Config`.

Every problem raises :class:`~watcher.errors.ConfigError` with one line naming the key, the bad
value and what is allowed. Nothing here touches the filesystem beyond reading the config files.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs
from loguru import logger

from watcher.config.model import (
    MODES,
    MODES_EXPLAINED,
    PROVIDERS,
    BackupConfig,
    Config,
    is_secret,
)
from watcher.config.transfer import parse_transfer
from watcher.config.values import (
    ENV_REF,
    Ctx,
    as_bool,
    as_choice,
    as_float,
    as_int,
    as_path,
    as_remote_name,
    as_remote_path,
    as_scalar,
    as_str,
    as_token,
    check_unknown,
    excludes,
    expand_env,
    inside,
    seconds_or_off,
    str_list,
    test_limits,
)
from watcher.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

CONFIG_ENV = "WORKSPACE_SYNC_CONFIG"
APP_NAME = "workspace-sync"

PROVIDER_TABLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "local": frozenset({"path"}),
        "dropbox": frozenset({"app_folder", "app_key", "app_secret", "token"}),
        "gdrive": frozenset({"token", "team_drive", "root_folder_id"}),
        "onedrive": frozenset({"token", "drive_id", "drive_type"}),
        "s3": frozenset(
            {"endpoint", "bucket", "region", "access_key_id", "secret_access_key", "provider"}
        ),
        "custom": frozenset({"rclone_type", "rclone_options"}),
    }
)
BACKUP_KEYS = frozenset(
    {
        "enabled",
        "password",
        "remote_path",
        "interval",
        "keep_last",
        "keep_daily",
        "keep_weekly",
        "keep_monthly",
        "include",
    }
)


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Locate the config file: ``explicit`` > ``$WORKSPACE_SYNC_CONFIG`` > ``./sync.toml`` >
    the user config dir's ``workspace-sync/sync.toml``."""
    if explicit:
        candidates = [("--config", Path(explicit))]
    elif os.environ.get(CONFIG_ENV):
        candidates = [(f"${CONFIG_ENV}", Path(os.environ[CONFIG_ENV]))]
    else:
        candidates = [
            ("./sync.toml", Path("sync.toml")),
            ("user config dir", Path(platformdirs.user_config_dir(APP_NAME)) / "sync.toml"),
        ]
    for _, path in candidates:
        path = path.expanduser()
        if path.is_file():
            return path.resolve()
    if len(candidates) == 1:
        origin, path = candidates[0]
        raise ConfigError(f"config file {path} (from {origin}) not found; check the path")
    raise ConfigError(
        f"no config found: looked for ./sync.toml and {candidates[1][1]}; pass --config PATH, "
        f"set ${CONFIG_ENV}, or copy sync.toml.example to sync.toml"
    )


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Find and validate the config; see :func:`find_config` for the lookup order. A config
    not found in the user config dir is marked ``config_named`` (printed fixes name it): one
    named by ``explicit`` or ``$WORKSPACE_SYNC_CONFIG``, and ``./sync.toml`` too, which the
    lookup finds only in that folder (pasted elsewhere a fix would miss it or take another)."""
    path = find_config(explicit)
    cfg = parse_config_file(path)
    default = Path(platformdirs.user_config_dir(APP_NAME)) / "sync.toml"
    if explicit or os.environ.get(CONFIG_ENV) or path != default.expanduser().resolve():
        cfg = dataclasses.replace(cfg, config_named=True)
    return cfg


def read_toml(path: Path, what: str = "config") -> dict[str, Any]:
    """Read a TOML file, turning every failure into a one-line :class:`ConfigError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} file: {exc.strerror}") from None
    try:
        parsed: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
        return parsed
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: {what} file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}; fix the syntax") from None


def parse_config_file(path: Path) -> Config:
    """Parse and validate the config file at ``path`` (which must exist); warns (one log line)
    when a file holding secrets can be read by other users."""
    raw = read_toml(path)
    cfg = parse_config(raw, path.resolve())
    if holds_secrets(raw):
        warn_if_exposed(path)
    if cfg.secrets_file is not None:
        warn_if_exposed(cfg.secrets_file)
    return cfg


def holds_secrets(raw: Mapping[str, Any]) -> bool:
    """True when the parsed TOML ``raw`` holds a secret value written out (not a ``${VAR}``)."""
    for table, content in raw.items():
        if not isinstance(content, dict):
            continue
        for key, value in content.items():
            if key == "rclone_options" and isinstance(value, dict):
                if any(is_secret("custom", k) and not _only_env_ref(v) for k, v in value.items()):
                    return True
            elif is_secret(table, key) and not _only_env_ref(value):
                return True
    return False


def _only_env_ref(value: Any) -> bool:
    return isinstance(value, str) and bool(ENV_REF.fullmatch(value.strip()))


def warn_if_exposed(path: Path) -> bool:
    """Log one warning when ``path`` (holding secrets) is group- or world-readable."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    if mode & 0o044:
        logger.warning(
            "{} holds secrets but other users can read it (mode {:o}); run: chmod 600 {}",
            path,
            mode & 0o777,
            path,
        )
        return True
    return False


# --------------------------------------------------------------------------- the schema

_Parser = Callable[[Ctx, str, Any], Any]
_TOP: dict[str, _Parser] = {
    "workspace": as_path,
    "mode": lambda c, k, v: as_choice(c, k, v, MODES),
    "provider": lambda c, k, v: as_choice(c, k, v, PROVIDERS),
    "remote_path": as_remote_path,
    "local_path": inside,
    "interval": lambda c, k, v: seconds_or_off(c, k, v, 60),
    "debounce": lambda c, k, v: as_float(c, k, v, 0.05, 60),
    "max_delay": lambda c, k, v: as_float(c, k, v, 0.05, 86400),
    "outbox_settle": lambda c, k, v: as_float(c, k, v, 0, 300),
    "outbox_poll": lambda c, k, v: seconds_or_off(c, k, v, 5),
    "timeout": lambda c, k, v: as_int(c, k, v, 1 if test_limits() else 60),
    "on_session_start": as_bool,
    "on_session_end": as_bool,
    "rclone": as_path,
    "remote_name": lambda c, k, v: as_remote_name(c, k, v),
    "rclone_config": as_path,
    "conflict_resolve": lambda c, k, v: as_choice(c, k, v, ("newer", "local", "remote")),
    "exclude": excludes,
    "copy_symlinks": as_bool,
    "ingest": as_bool,
    "ingest_path": inside,
    "max_delete": lambda c, k, v: as_int(c, k, v, 0, 100),
    "log_file": as_path,
    "secrets_file": as_path,
    "on_arrival": lambda c, k, v: str_list(c, k, v, allow_empty=False),
}
_TABLES = frozenset({"backup", *PROVIDER_TABLES})


def parse_config(
    raw: Mapping[str, Any], path: Path, secrets: Mapping[str, Any] | None = None
) -> Config:
    """Validate the parsed TOML ``raw`` of the file at ``path`` into a :class:`Config`; the
    secrets come from ``secrets`` when given (validating files not yet written), else from the
    ``secrets_file`` it names."""
    ctx = Ctx(path)
    check_unknown(ctx, raw, frozenset(_TOP) | _TABLES | {"transfer"}, "")
    if "mode" not in raw:
        raise ConfigError(
            f"{path}: key 'mode' is required; choose one of " + MODES_EXPLAINED + "; "
            'e.g. mode = "mailbox"'
        )
    if "workspace" not in raw:
        raise ConfigError(
            f"{path}: key 'workspace' is required; set it to the folder to sync, "
            'e.g. workspace = "~/agent-workspace"'
        )
    values: dict[str, Any] = {
        name: parser(ctx, name, raw[name]) for name, parser in _TOP.items() if name in raw
    }
    for table in _TABLES:
        if table in raw and not isinstance(raw[table], dict):
            raise ctx.error(table, raw[table], f"expected a [{table}] table")

    secrets = _load_secrets(ctx, values.get("secrets_file"), secrets)
    provider = values.get("provider", "off")
    values["provider_options"] = _provider_options(ctx, raw, secrets, provider)
    values["backup"] = _backup(ctx, raw.get("backup", {}), secrets.get("backup", {}))
    values["transfer"] = parse_transfer(path, raw.get("transfer", {}), partial(expand_env, ctx))

    cfg = Config(config_path=path, **values)
    _cross_checks(ctx, cfg)
    return cfg


def _load_secrets(
    ctx: Ctx, secrets_path: Path | None, given: Mapping[str, Any] | None
) -> Mapping[str, Any]:
    if secrets_path is None:
        return {}
    if given is not None:
        data: Mapping[str, Any] = given
    elif not secrets_path.is_file():
        raise ConfigError(f"{ctx.path}: key 'secrets_file': {secrets_path} not found")
    else:
        data = read_toml(secrets_path, "secrets")
    sctx = Ctx(secrets_path)
    check_unknown(sctx, data, _TABLES, "")
    for table, content in data.items():
        if not isinstance(content, dict):
            raise sctx.error(table, content, f"expected a [{table}] table")
    return data


def _provider_options(
    ctx: Ctx, raw: Mapping[str, Any], secrets: Mapping[str, Any], provider: str
) -> Mapping[str, Any]:
    merged: dict[str, Any] = {}
    for table, known in PROVIDER_TABLES.items():
        content = {**raw.get(table, {}), **secrets.get(table, {})}
        plain, secret = (
            raw.get(table, {}).get("rclone_options"),
            secrets.get(table, {}).get("rclone_options"),
        )
        if isinstance(plain, dict) and isinstance(secret, dict):
            content["rclone_options"] = {**plain, **secret}
        check_unknown(ctx, content, known, f"{table}.")
        if table == provider:
            merged = content
    return MappingProxyType(_provider_values(ctx, provider, merged))


def _provider_values(ctx: Ctx, provider: str, table: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{provider}.{key}"
        if provider == "local" and key == "path":
            out[key] = as_path(ctx, full, value)
        elif provider == "dropbox" and key == "app_folder":
            out[key] = as_bool(ctx, full, value)
        elif provider == "custom" and key == "rclone_options":
            if not isinstance(value, dict):
                raise ctx.error(full, value, "expected a table of rclone option = value")
            if "type" in value:
                raise ctx.error(
                    f"{full}.type", value["type"], "set the backend in custom.rclone_type"
                )
            out[key] = MappingProxyType(
                {str(k): as_scalar(ctx, f"{full}.{k}", v) for k, v in value.items()}
            )
        elif key == "token":
            out[key] = as_token(ctx, full, value)
        else:
            out[key] = as_str(ctx, full, value)
    required = {"local": ("path",), "s3": ("bucket",), "custom": ("rclone_type",)}
    for key in required.get(provider, ()):
        if key not in out:
            raise ConfigError(
                f"{ctx.path}: provider \"{provider}\" needs key '{provider}.{key}' "
                f"in a [{provider}] table"
            )
    if provider == "onedrive" and "drive_type" in out:
        as_choice(
            ctx, "onedrive.drive_type", out["drive_type"], ("personal", "business", "sharepoint")
        )
    if provider == "s3" and ("/" in out["bucket"] or not out["bucket"].strip()):
        raise ctx.error("s3.bucket", out["bucket"], "expected a bucket name without '/'")
    return out


def _backup(ctx: Ctx, raw: Mapping[str, Any], secrets: Mapping[str, Any]) -> BackupConfig:
    table = {**raw, **secrets}
    check_unknown(ctx, table, BACKUP_KEYS, "backup.")
    parsers: dict[str, _Parser] = {
        "enabled": as_bool,
        "password": as_str,
        "remote_path": as_remote_path,
        "interval": lambda c, k, v: seconds_or_off(c, k, v, 3600),
        "keep_last": lambda c, k, v: as_int(c, k, v, 0),
        "keep_daily": lambda c, k, v: as_int(c, k, v, 0),
        "keep_weekly": lambda c, k, v: as_int(c, k, v, 0),
        "keep_monthly": lambda c, k, v: as_int(c, k, v, 0),
        "include": lambda c, k, v: tuple(as_path(c, k, p) for p in str_list(c, k, v)),
    }
    values = {k: parsers[k](ctx, f"backup.{k}", v) for k, v in table.items()}
    backup = BackupConfig(**values)
    if backup.enabled and not backup.password:
        raise ConfigError(
            f"{ctx.path}: key 'backup.password' is required when backup.enabled = true "
            "(put it in secrets_file; losing it loses the backups)"
        )
    if backup.enabled and not (
        backup.keep_last or backup.keep_daily or backup.keep_weekly or backup.keep_monthly
    ):
        raise ConfigError(
            f"{ctx.path}: [backup] keeps no snapshot: set at least one of keep_last, keep_daily, "
            "keep_weekly, keep_monthly above 0"
        )
    return backup


def _cross_checks(ctx: Ctx, cfg: Config) -> None:
    if cfg.max_delay < cfg.debounce:
        raise ctx.error(
            "max_delay", cfg.max_delay, f"expected at least debounce ({cfg.debounce:g} s)"
        )
    if cfg.ingest and cfg.mode != "mirror":
        raise ctx.error("ingest", True, 'the ingest folder only exists in mode = "mirror"')
    if (
        cfg.ingest
        and cfg.local_path
        and cfg.ingest_path
        and (cfg.local_path == cfg.ingest_path or cfg.local_path.startswith(cfg.ingest_path + "/"))
    ):
        raise ctx.error(
            "ingest_path", cfg.ingest_path, "it must not contain the synced folder (local_path)"
        )
    if cfg.ingest and not cfg.ingest_path:
        raise ctx.error("ingest_path", "", "the ingest folder must be a subfolder of the workspace")
    if cfg.backup.enabled and _overlaps(cfg.backup.remote_path, cfg.remote_path):
        raise ctx.error(
            "backup.remote_path",
            cfg.backup.remote_path,
            f"it must not overlap the synced remote_path '{cfg.remote_path}'",
        )


def _overlaps(a: str, b: str) -> bool:
    if not a or not b:
        return True
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")
