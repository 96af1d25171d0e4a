"""The rclone.conf this tool owns: one remote section rendered from the provider settings, plus
the ``crypt`` remote of the backups (``<remote_name>-backup``) when ``[backup]`` is enabled.

Secrets reach rclone only through this file (mode 0600 in a 0700 folder, written directly, never via
``rclone config create`` whose argv ``ps`` shows). The file is regenerated whenever the provider
settings' fingerprint changes; an OAuth token that rclone refreshed in place is kept as long as the
configured token itself has not changed.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from watcher.config import Config
from watcher.errors import ConfigError
from watcher.fsutil import atomic_write
from watcher.plan.cycle import remote_root
from watcher.plan.snapshots import backup_remote_name

Section = dict[str, str]
_SUBSTITUTION = re.compile(r"%\([^)]*\)s")
TOKEN_KEY = "token"  # noqa: S105 (an option name, not a secret)
#: Options of the crypt section that rclone stores obscured.
CRYPT_SECRETS = frozenset({"password", "password2"})
_SALT_PREFIX = b"workspace-sync backup salt v1\0"


def _local(opts: Mapping[str, Any]) -> Section:
    return {"type": "local"}


def _s3(opts: Mapping[str, Any]) -> Section:
    section = {"type": "s3", "provider": str(opts.get("provider") or "Other")}
    has_keys = bool(opts.get("access_key_id") or opts.get("secret_access_key"))
    section["env_auth"] = "false" if has_keys else "true"
    for key in ("access_key_id", "secret_access_key", "region", "endpoint"):
        if opts.get(key):
            section[key] = str(opts[key])
    return section


def _dropbox(opts: Mapping[str, Any]) -> Section:
    section = {"type": "dropbox"}
    for ours, theirs in (("app_key", "client_id"), ("app_secret", "client_secret")):
        if opts.get(ours):
            section[theirs] = str(opts[ours])
    if opts.get("token"):
        section["token"] = str(opts["token"])
    return section


def _gdrive(opts: Mapping[str, Any]) -> Section:
    section = {"type": "drive", "scope": "drive"}
    for key in ("token", "team_drive", "root_folder_id"):
        if opts.get(key):
            section[key] = str(opts[key])
    return section


def _onedrive(opts: Mapping[str, Any]) -> Section:
    if not (opts.get("drive_id") and opts.get("drive_type")):
        raise ConfigError(
            'provider "onedrive" needs onedrive.drive_id and onedrive.drive_type (rclone '
            "cannot open OneDrive without them); find them with: rclone backend drives, or "
            "https://graph.microsoft.com/v1.0/me/drive (fields id, driveType)"
        )
    section = {"type": "onedrive"}
    for key in ("token", "drive_id", "drive_type"):
        if opts.get(key):
            section[key] = str(opts[key])
    return section


def _custom(opts: Mapping[str, Any]) -> Section:
    section = {"type": str(opts["rclone_type"])}
    for key, value in dict(opts.get("rclone_options", {})).items():
        section[key] = _ini_value(value)
    return section


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


#: One small function per provider; each returns the remote's section (before obscuring).
SECTION_RENDERERS: Mapping[str, Callable[[Mapping[str, Any]], Section]] = {
    "local": _local,
    "s3": _s3,
    "dropbox": _dropbox,
    "gdrive": _gdrive,
    "onedrive": _onedrive,
    "custom": _custom,
}


def render_section(cfg: Config) -> Section:
    """The remote section for ``cfg``'s provider, secrets in clear (not yet obscured)."""
    if cfg.provider == "off":
        raise ConfigError(
            f'{cfg.config_path}: provider = "off": sync is disabled; set provider to one of '
            "local, dropbox, gdrive, onedrive, s3, custom"
        )
    try:
        section = SECTION_RENDERERS[cfg.provider](cfg.provider_options)
    except ConfigError as exc:
        raise ConfigError(f"{cfg.config_path}: {exc}") from None
    for key, value in section.items():
        if "\n" in value or "\r" in value:
            raise ConfigError(
                f"{cfg.config_path}: key '{cfg.provider}.{key}': the value spans several lines; "
                "write it on one line"
            )
    return section


def backup_salt(password: str) -> str:
    """The crypt salt (``password2``), derived from the backup password alone, so that the
    config or ``secrets_file`` is all it takes to read the backups (rclone.conf is never the
    only copy)."""
    return hashlib.sha256(_SALT_PREFIX + password.encode()).hexdigest()


def render_backup_section(cfg: Config) -> Section | None:
    """The crypt section over ``backup.remote_path`` on the provider remote, secrets in clear
    (not yet obscured); ``None`` when backups are disabled."""
    backup = cfg.backup
    if not backup.enabled:
        return None
    if not backup.password:
        raise ConfigError(f"{cfg.config_path}: key 'backup.password' is required")
    if "\n" in backup.password or "\r" in backup.password:
        raise ConfigError(
            f"{cfg.config_path}: key 'backup.password': the value spans several lines; "
            "write it on one line"
        )
    return {
        "type": "crypt",
        "remote": remote_root(cfg, backup.remote_path),
        "filename_encryption": "standard",
        "directory_name_encryption": "true",
        "password": backup.password,
        "password2": backup_salt(backup.password),
    }


def backup_fingerprint(cfg: Config, settings_fp: str) -> str:
    """The settings fingerprint extended with the backup section (unchanged without one)."""
    section = render_backup_section(cfg)
    if section is None:
        return settings_fp
    return fingerprint(backup_remote_name(cfg), {"provider": settings_fp, **section})


def check_values(cfg: Config, section: Mapping[str, str]) -> None:
    """Refuse values rclone's config parser would read back changed: surrounding spaces are
    trimmed, ``%(name)s`` is substituted and values wrapped in backticks or triple quotes lose
    them. Called on the final (obscured) section; the value itself is never shown."""
    for key, value in section.items():
        wrapped = (len(value) >= 2 and value[0] == value[-1] == "`") or (
            len(value) >= 6 and value.startswith('"""') and value.endswith('"""')
        )
        if value != value.strip() or _SUBSTITUTION.search(value) or wrapped:
            raise ConfigError(
                f"{cfg.config_path}: key '{cfg.provider}.{key}': rclone.conf cannot hold this "
                "value unchanged (leading/trailing spaces, '%(name)s', or backtick/triple-quote "
                "wrapping); change the value"
            )


def fingerprint(name: str, section: Mapping[str, str], keys: set[str] | None = None) -> str:
    """A stable hash of a section (or of only ``keys`` of it); no secret can be read back."""
    data = {k: v for k, v in section.items() if keys is None or k in keys}
    blob = json.dumps([name, data], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def render_file(
    name: str, section: Mapping[str, str], extra: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """The text of an rclone.conf holding one section (plus the ``extra`` sections)."""
    blocks = []
    for title, body in {name: section, **(extra or {})}.items():
        lines = [f"[{title}]"] + [f"{key} = {value}" for key, value in body.items()]
        blocks.append("\n".join(lines) + "\n")
    return "# Written by workspace-sync; regenerated when the provider settings change.\n" + (
        "\n".join(blocks)
    )


def read_section(path: Path, name: str) -> dict[str, str] | None:
    """The section ``name`` of an existing rclone.conf, or ``None``."""
    parser = configparser.RawConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except (OSError, configparser.Error, UnicodeDecodeError):
        return None
    if not parser.has_section(name):
        return None
    return dict(parser.items(name))


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically with mode 0600, its folder created 0700."""
    atomic_write(path, text, mode=0o600)
