"""Find, parse and validate ``sync.toml`` into a frozen :class:`~watcher.config.model.Config`.

Every problem raises :class:`~watcher.errors.ConfigError` with one line naming the key, the bad
value and what is allowed. Nothing here touches the filesystem beyond reading the config files.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
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
from watcher.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

CONFIG_ENV = "WORKSPACE_SYNC_CONFIG"
TEST_LIMITS_ENV = "WORKSPACE_SYNC_TEST_LIMITS"
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
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REMOTE_NAME = re.compile(r"^[A-Za-z0-9_.+@][A-Za-z0-9_.+@ -]*$")


def test_limits() -> bool:
    """True when ``WORKSPACE_SYNC_TEST_LIMITS=1`` lowers the minimum intervals for tests."""
    return os.environ.get(TEST_LIMITS_ENV) == "1"


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
    return isinstance(value, str) and bool(_ENV_REF.fullmatch(value.strip()))


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


# --------------------------------------------------------------------------- validation helpers


@dataclass(frozen=True)
class _Ctx:
    """Where values come from, for error messages and relative paths."""

    path: Path

    @property
    def base(self) -> Path:
        return self.path.parent

    def error(self, key: str, value: Any, allowed: str) -> ConfigError:
        shown = "the value (hidden: a secret)" if _secret_key(key) else _show(value)
        return ConfigError(f"{self.path}: key '{key}': {shown} is not allowed; {allowed}")


def _secret_key(key: str) -> bool:
    """True when the dotted ``key`` (``table.option[.sub]``) names a secret."""
    parts = key.split(".")
    return len(parts) >= 2 and is_secret(parts[0], parts[-1])


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def _check_unknown(ctx: _Ctx, table: Mapping[str, Any], known: frozenset[str], prefix: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
            hint = (
                f"did you mean '{prefix}{close[0]}'?"
                if close
                else "valid keys: " + ", ".join(sorted(prefix + k for k in known))
            )
            raise ConfigError(f"{ctx.path}: unknown key '{prefix}{key}'; {hint}")


def _expand_env(ctx: _Ctx, key: str, value: str) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                f"{ctx.path}: key '{key}': environment variable ${{{name}}} is not set; "
                "set it or write the value"
            )
        return os.environ[name]

    return _ENV_REF.sub(repl, value)


def _str(ctx: _Ctx, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ctx.error(key, value, "expected a string")
    return _expand_env(ctx, key, value)


def _bool(ctx: _Ctx, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(key, value, "expected true or false")
    return value


def _int(ctx: _Ctx, key: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.error(key, value, "expected a whole number")
    if value < lo or (hi is not None and value > hi):
        rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ctx.error(key, value, f"expected a number {rng}")
    return value


def _float(ctx: _Ctx, key: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.error(key, value, "expected a number of seconds")
    if not lo <= value <= hi:
        raise ctx.error(key, value, f"expected seconds between {lo:g} and {hi:g}")
    return float(value)


def _choice(ctx: _Ctx, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ctx.error(key, value, "expected one of: " + ", ".join(f'"{c}"' for c in choices))
    return value


def _path(ctx: _Ctx, key: str, value: Any) -> Path:
    text = _str(ctx, key, value)
    if not text.strip():
        raise ctx.error(key, value, "expected a non-empty path")
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = ctx.base / path
    return Path(os.path.normpath(path))


def _seconds_or_off(ctx: _Ctx, key: str, value: Any, minimum: int) -> int:
    """An interval where 0 means off and anything else must reach ``minimum``."""
    number = _int(ctx, key, value, 0)
    floor = 1 if test_limits() else minimum
    if 0 < number < floor:
        raise ctx.error(key, value, f"expected 0 (off) or at least {floor} seconds")
    return number


def _inside(ctx: _Ctx, key: str, value: Any) -> str:
    """A relative path that must stay inside the workspace, normalised (``""`` = the root)."""
    text = _str(ctx, key, value).strip()
    if text in ("", "/", "."):
        return ""
    if text.startswith(("/", "~")):
        raise ctx.error(
            key, value, 'expected a path relative to the workspace ("" or "/" for all of it)'
        )
    parts: list[str] = []
    for part in PurePosixPath(text).parts:
        if part == "..":
            if not parts:
                raise ctx.error(key, value, "the path must stay inside the workspace")
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _remote_path(ctx: _Ctx, key: str, value: Any) -> str:
    text = _str(ctx, key, value).strip().strip("/")
    if any(part in ("..", ".") for part in text.split("/")) or "//" in text:
        raise ctx.error(key, value, "expected a plain folder path without '.', '..' or '//'")
    return text


def _str_list(ctx: _Ctx, key: str, value: Any, *, allow_empty: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.error(key, value, "expected a list of strings")
    if not allow_empty and not value:
        raise ctx.error(key, value, "expected a non-empty list")
    return tuple(_expand_env(ctx, key, v) for v in value)


def _excludes(ctx: _Ctx, key: str, value: Any) -> tuple[str, ...]:
    """Filter globs, compiled once here so a broken one is a config error, not a crash later."""
    from watcher.plan.filters import PathFilter  # here: watcher.plan imports watcher.config

    patterns = _str_list(ctx, key, value)
    for pattern in patterns:
        try:
            PathFilter.from_user([pattern])
        except (ValueError, re.error) as exc:
            raise ctx.error(key, pattern, f"expected an rclone filter glob ({exc})") from None
    return patterns


# --------------------------------------------------------------------------- the schema

_Parser = Callable[[_Ctx, str, Any], Any]
_TOP: dict[str, _Parser] = {
    "workspace": _path,
    "mode": lambda c, k, v: _choice(c, k, v, MODES),
    "provider": lambda c, k, v: _choice(c, k, v, PROVIDERS),
    "remote_path": _remote_path,
    "local_path": _inside,
    "interval": lambda c, k, v: _seconds_or_off(c, k, v, 60),
    "debounce": lambda c, k, v: _float(c, k, v, 0.05, 60),
    "max_delay": lambda c, k, v: _float(c, k, v, 0.05, 86400),
    "outbox_settle": lambda c, k, v: _float(c, k, v, 0, 300),
    "outbox_poll": lambda c, k, v: _seconds_or_off(c, k, v, 5),
    "timeout": lambda c, k, v: _int(c, k, v, 1 if test_limits() else 60),
    "on_session_start": _bool,
    "on_session_end": _bool,
    "rclone": _path,
    "remote_name": lambda c, k, v: _remote_name(c, k, v),
    "rclone_config": _path,
    "conflict_resolve": lambda c, k, v: _choice(c, k, v, ("newer", "local", "remote")),
    "exclude": _excludes,
    "copy_symlinks": _bool,
    "ingest": _bool,
    "ingest_path": _inside,
    "max_delete": lambda c, k, v: _int(c, k, v, 0, 100),
    "log_file": _path,
    "secrets_file": _path,
    "on_arrival": lambda c, k, v: _str_list(c, k, v, allow_empty=False),
}
_TABLES = frozenset({"backup", *PROVIDER_TABLES})


def _remote_name(ctx: _Ctx, key: str, value: Any) -> str:
    text = _str(ctx, key, value)
    if not _REMOTE_NAME.match(text) or text.endswith(" "):
        raise ctx.error(
            key, value, "expected letters, digits, '_', '-', '.', '+', '@' (not starting with '-')"
        )
    return text


def parse_config(
    raw: Mapping[str, Any], path: Path, secrets: Mapping[str, Any] | None = None
) -> Config:
    """Validate the parsed TOML ``raw`` of the file at ``path`` into a :class:`Config`; the
    secrets come from ``secrets`` when given (validating files not yet written), else from the
    ``secrets_file`` it names."""
    ctx = _Ctx(path)
    _check_unknown(ctx, raw, frozenset(_TOP) | _TABLES | {"transfer"}, "")
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
    values["transfer"] = parse_transfer(path, raw.get("transfer", {}), partial(_expand_env, ctx))

    cfg = Config(config_path=path, **values)
    _cross_checks(ctx, cfg)
    return cfg


def _load_secrets(
    ctx: _Ctx, secrets_path: Path | None, given: Mapping[str, Any] | None
) -> Mapping[str, Any]:
    if secrets_path is None:
        return {}
    if given is not None:
        data: Mapping[str, Any] = given
    elif not secrets_path.is_file():
        raise ConfigError(f"{ctx.path}: key 'secrets_file': {secrets_path} not found")
    else:
        data = read_toml(secrets_path, "secrets")
    sctx = _Ctx(secrets_path)
    _check_unknown(sctx, data, _TABLES, "")
    for table, content in data.items():
        if not isinstance(content, dict):
            raise sctx.error(table, content, f"expected a [{table}] table")
    return data


def _provider_options(
    ctx: _Ctx, raw: Mapping[str, Any], secrets: Mapping[str, Any], provider: str
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
        _check_unknown(ctx, content, known, f"{table}.")
        if table == provider:
            merged = content
    return MappingProxyType(_provider_values(ctx, provider, merged))


def _provider_values(ctx: _Ctx, provider: str, table: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{provider}.{key}"
        if provider == "local" and key == "path":
            out[key] = _path(ctx, full, value)
        elif provider == "dropbox" and key == "app_folder":
            out[key] = _bool(ctx, full, value)
        elif provider == "custom" and key == "rclone_options":
            if not isinstance(value, dict):
                raise ctx.error(full, value, "expected a table of rclone option = value")
            if "type" in value:
                raise ctx.error(
                    f"{full}.type", value["type"], "set the backend in custom.rclone_type"
                )
            out[key] = MappingProxyType(
                {str(k): _scalar(ctx, f"{full}.{k}", v) for k, v in value.items()}
            )
        elif key == "token":
            out[key] = _token(ctx, full, value)
        else:
            out[key] = _str(ctx, full, value)
    required = {"local": ("path",), "s3": ("bucket",), "custom": ("rclone_type",)}
    for key in required.get(provider, ()):
        if key not in out:
            raise ConfigError(
                f"{ctx.path}: provider \"{provider}\" needs key '{provider}.{key}' "
                f"in a [{provider}] table"
            )
    if provider == "onedrive" and "drive_type" in out:
        _choice(
            ctx, "onedrive.drive_type", out["drive_type"], ("personal", "business", "sharepoint")
        )
    if provider == "s3" and ("/" in out["bucket"] or not out["bucket"].strip()):
        raise ctx.error("s3.bucket", out["bucket"], "expected a bucket name without '/'")
    return out


def _token(ctx: _Ctx, key: str, value: Any) -> str:
    """An OAuth token: the JSON object ``rclone authorize`` prints (value never shown)."""
    text = _str(ctx, key, value).strip()
    if not is_token(text):
        raise ctx.error(
            key,
            value,
            'expected the JSON token that "rclone authorize" prints ({"access_token":...}); '
            "run: workspace-sync authorize",
        )
    return text


def is_token(text: str) -> bool:
    """True when ``text`` is an rclone OAuth token: a JSON object with an ``access_token``."""
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("access_token"), str)


def _scalar(ctx: _Ctx, key: str, value: Any) -> str | int | float | bool:
    if isinstance(value, str):
        return _expand_env(ctx, key, value)
    if isinstance(value, (bool, int, float)):
        return value
    raise ctx.error(key, value, "expected a string, number or boolean")


def _backup(ctx: _Ctx, raw: Mapping[str, Any], secrets: Mapping[str, Any]) -> BackupConfig:
    table = {**raw, **secrets}
    _check_unknown(ctx, table, BACKUP_KEYS, "backup.")
    parsers: dict[str, _Parser] = {
        "enabled": _bool,
        "password": _str,
        "remote_path": _remote_path,
        "interval": lambda c, k, v: _seconds_or_off(c, k, v, 3600),
        "keep_last": lambda c, k, v: _int(c, k, v, 0),
        "keep_daily": lambda c, k, v: _int(c, k, v, 0),
        "keep_weekly": lambda c, k, v: _int(c, k, v, 0),
        "keep_monthly": lambda c, k, v: _int(c, k, v, 0),
        "include": lambda c, k, v: tuple(_path(c, k, p) for p in _str_list(c, k, v)),
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


def _cross_checks(ctx: _Ctx, cfg: Config) -> None:
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
