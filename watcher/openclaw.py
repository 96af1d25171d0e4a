"""Convert the openclaw-workspace-sync plugin's settings (``openclaw.json``) to sync.toml values.

Pure: takes the parsed JSON, returns the top-level values, the tables, the secrets (kept apart so
they go to a 0600 secrets file) and notes on every key that could not be mapped or was adjusted.
The plugin's config may sit at the file's root (flat) or under
``plugins.entries["openclaw-workspace-sync"].config``, itself flat or split into ``sync`` and
``backup`` blocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import json5

from watcher.config.model import is_secret

PLUGIN_ID = "openclaw-workspace-sync"
DEFAULT_WORKSPACE = "~/.openclaw/workspace"
DEFAULT_STATE_DIR = "~/.openclaw"

#: The plugin's ``backup.include`` items and where each lives: in OpenClaw's state folder (the
#: one holding openclaw.json) or inside the workspace, which every snapshot here holds whole.
INCLUDE_ITEMS: Mapping[str, tuple[str, str]] = {
    "workspace": ("workspace", ""),
    "memory": ("workspace", "memory"),
    "skills": ("workspace", "skills"),
    "env": ("workspace", ".env"),
    "pages": ("workspace", "pages"),
    "config": ("state", "openclaw.json"),
    "cron": ("state", "cron"),
    "sessions": ("state", "sessions"),
    "transcripts": ("state", "sessions"),
    "credentials": ("state", "credentials"),
    "hooks": ("state", "hooks"),
    "extensions": ("state", "extensions"),
    "agents": ("state", "agents"),
}
#: What the plugin backs up when ``backup.include`` is not set.
PLUGIN_DEFAULT_INCLUDE = ("workspace", "config", "cron", "memory")

#: camelCase plugin key → sync.toml key (values copied as they are).
TOP_KEYS: Mapping[str, str] = {
    "provider": "provider",
    "mode": "mode",
    "remotePath": "remote_path",
    "localPath": "local_path",
    "interval": "interval",
    "timeout": "timeout",
    "onSessionStart": "on_session_start",
    "onSessionEnd": "on_session_end",
    "remoteName": "remote_name",
    "configPath": "rclone_config",
    "conflictResolve": "conflict_resolve",
    "exclude": "exclude",
    "copySymlinks": "copy_symlinks",
    "ingest": "ingest",
}
PROVIDER_KEYS: Mapping[str, Mapping[str, str]] = {
    "s3": {
        "endpoint": "endpoint",
        "bucket": "bucket",
        "region": "region",
        "accessKeyId": "access_key_id",
        "secretAccessKey": "secret_access_key",
        "provider": "provider",
    },
    "dropbox": {
        "appFolder": "app_folder",
        "appKey": "app_key",
        "appSecret": "app_secret",
        "token": "token",
    },
    "gdrive": {"token": "token", "teamDrive": "team_drive", "rootFolderId": "root_folder_id"},
    "onedrive": {"token": "token", "driveId": "drive_id", "driveType": "drive_type"},
    "custom": {"rcloneType": "rclone_type"},
}
_ENV_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


@dataclass
class Conversion:
    """The result: ``values`` and ``tables`` for sync.toml, ``secrets`` for the secrets file,
    ``notes`` (adjustments) and ``unmapped`` (``key: why``) to report."""

    values: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)

    def put(self, table: str, key: str, value: Any, *, option: str | None = None) -> None:
        """Store a table value; secrets (unless a bare ``${VAR}``) go to :attr:`secrets`."""
        name = option or key
        secret = is_secret(table, name) and not (isinstance(value, str) and _ENV_ONLY.match(value))
        target = (self.secrets if secret else self.tables).setdefault(table, {})
        if option is not None:
            target.setdefault(key, {})[option] = value
        else:
            target[key] = value


def parse_json(text: str) -> Any:
    """Parse ``openclaw.json``, which OpenClaw reads as JSON5 (comments, trailing commas,
    unquoted keys, single quotes); ``${VAR}`` references stay the strings they are. Raises
    ``ValueError`` naming the line and column of a syntax error."""
    return json5.loads(text)


def plugin_config(data: Any) -> tuple[dict[str, Any], str]:
    """The plugin's settings in ``data`` and where they were found. Raises ``ValueError``."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object at the top level")
    entry = data.get("plugins", {}).get("entries", {}).get(PLUGIN_ID)
    if isinstance(entry, dict):
        config = entry.get("config", {})
        where = f'plugins.entries["{PLUGIN_ID}"].config'
        if not isinstance(config, dict):
            raise ValueError(f"{where} is not an object")
        return config, where
    if "plugins" in data and not any(k in data for k in TOP_KEYS):
        raise ValueError(f'no plugins.entries["{PLUGIN_ID}"] in this file')
    return {k: v for k, v in data.items() if k not in ("plugins", "agents")}, "the top level"


def convert(
    data: Any,
    *,
    workspace: str | None = None,
    mode: str | None = None,
    state_dir: str = DEFAULT_STATE_DIR,
) -> Conversion:
    """Convert a parsed ``openclaw.json`` (see the module docstring). ``workspace`` and ``mode``
    override what the file says; ``state_dir`` is OpenClaw's state folder (where the backup's
    ``include`` items such as ``config`` and ``cron`` live). Raises ``ValueError`` when the
    plugin's settings are absent."""
    config, where = plugin_config(data)
    out = Conversion()
    sync = config.get("sync") if isinstance(config.get("sync"), dict) else None
    flat = {k: v for k, v in config.items() if k not in ("sync", "backup")}
    settings = {**flat, **(sync or {})}
    prefix = "sync." if sync is not None else ""

    out.values["workspace"] = workspace or _agent_workspace(data, out)
    for key, value in settings.items():
        if key in TOP_KEYS:
            out.values[TOP_KEYS[key]] = value
        elif key in PROVIDER_KEYS:
            _provider(key, value, out, prefix)
        elif key == "ingestPath":
            continue  # below: relative to localPath in the plugin
        elif key == "notifyOnInbox":
            out.unmapped.append(f"{prefix}{key}: no equivalent (use on_arrival to run a command)")
        elif key == "enabled":
            continue
        else:
            out.unmapped.append(f"{prefix}{key}: unknown plugin key")
    if mode:
        out.values["mode"] = mode
    elif "mode" not in out.values:
        out.values["mode"] = "bisync"
        out.notes.append(
            "no mode in the plugin config: plugin versions before 2.0 always ran bisync, so mode = "
            '"bisync"; pass --mode to choose mailbox or mirror'
        )
    _ingest(settings, out)
    _limits(out)
    if isinstance(config.get("backup"), dict):
        _backup(config["backup"], out)
        _include(config["backup"].get("include"), out, state_dir)
    out.notes.insert(0, f"read the plugin settings from {where}")
    return out


def _agent_workspace(data: Mapping[str, Any], out: Conversion) -> str:
    agents = data.get("agents", {}) if isinstance(data.get("agents"), dict) else {}
    defaults = agents.get("defaults", {}) if isinstance(agents.get("defaults"), dict) else {}
    found = defaults.get("workspace")
    if isinstance(found, str) and found:
        return found
    out.notes.append(f"workspace = {DEFAULT_WORKSPACE!r} (OpenClaw's default); pass --workspace")
    return DEFAULT_WORKSPACE


def _provider(table: str, value: Any, out: Conversion, prefix: str) -> None:
    if not isinstance(value, dict):
        out.unmapped.append(f"{prefix}{table}: expected an object")
        return
    for key, item in value.items():
        if table == "custom" and key == "rcloneOptions" and isinstance(item, dict):
            for option, option_value in item.items():
                out.put("custom", "rclone_options", option_value, option=option)
        elif key in PROVIDER_KEYS[table]:
            out.put(table, PROVIDER_KEYS[table][key], item)
        else:
            out.unmapped.append(f"{prefix}{table}.{key}: unknown {table} setting")


def _ingest(settings: Mapping[str, Any], out: Conversion) -> None:
    """The plugin's ``ingestPath`` is relative to ``localPath``; ours is relative to workspace."""
    if "ingestPath" not in settings:
        if out.values.get("ingest"):
            local = str(out.values.get("local_path", "shared")).strip("/")
            out.values["ingest_path"] = f"{local}/inbox" if local else "inbox"
        return
    local = str(out.values.get("local_path", "shared")).strip("/")
    sub = str(settings["ingestPath"]).strip("/")
    out.values["ingest_path"] = f"{local}/{sub}" if local else sub
    out.notes.append(
        f"ingestPath {settings['ingestPath']!r} is relative to localPath in the plugin: "
        f"ingest_path = {out.values['ingest_path']!r}"
    )


def _limits(out: Conversion) -> None:
    for key, floor in (("interval", 60), ("timeout", 60)):
        value = out.values.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < floor:
            out.values[key] = floor
            out.notes.append(f"{key} {value} raised to {floor} (the minimum here)")


def _backup(backup: Mapping[str, Any], out: Conversion) -> None:
    table: dict[str, Any] = {}
    remote = backup.get("remotePath")
    for key, item in backup.items():
        if key == "enabled":
            table["enabled"] = item
        elif key == "passphrase":
            out.put("backup", "password", item)
        elif key == "remotePath":
            table["remote_path"] = item
        elif key == "prefix" and isinstance(item, str):
            table["remote_path"] = f"{remote or 'openclaw-backup'}/{item}".strip("/")
        elif key == "interval":
            table["interval"] = item
        elif key == "retain" and isinstance(item, int):
            table["keep_last"] = item
        elif key == "retain" and isinstance(item, dict):
            for name in ("daily", "weekly", "monthly"):
                if name in item:
                    table[f"keep_{name}"] = item[name]
        elif key == "include":
            continue  # :func:`_include`
        elif key == "encrypt":
            if item is False:
                out.notes.append("backup.encrypt = false: snapshots here are always encrypted")
        else:
            out.unmapped.append(
                f"backup.{key}: no equivalent (backups use the sync provider and its exclude)"
            )
    has_password = "password" in out.secrets.get("backup", {}) or "password" in out.tables.get(
        "backup", {}
    )
    if table.get("enabled") and not has_password:
        table["enabled"] = False
        out.notes.append("backup disabled: no passphrase; set backup.password, then enable it")
    out.tables.setdefault("backup", {}).update(table)


def _include(items: Any, out: Conversion, state_dir: str) -> None:
    """The plugin's ``backup.include`` items as ``[backup] include`` paths: the state-folder
    items under ``state_dir``; the workspace items need none (every snapshot holds the whole
    workspace); a path is kept as written. Without ``include``, the plugin's default."""
    if items is None:
        items = list(PLUGIN_DEFAULT_INCLUDE)
        out.notes.append(
            "backup.include not set: the plugin's default " + ", ".join(items) + " is mapped"
        )
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        out.unmapped.append("backup.include: expected a list of item names")
        return
    paths: list[str] = []
    for item in items:
        where = INCLUDE_ITEMS.get(item)
        if where is None and ("/" in item or item.startswith("~")):
            paths.append(item)
        elif where is None:
            out.unmapped.append(
                f"backup.include {item!r}: not a plugin item (" + ", ".join(INCLUDE_ITEMS) + ")"
            )
        elif where[0] == "state" and f"{state_dir}/{where[1]}" not in paths:
            paths.append(f"{state_dir}/{where[1]}")
    inside = [i for i in items if INCLUDE_ITEMS.get(i, ("",))[0] == "workspace"]
    if paths:
        out.tables.setdefault("backup", {})["include"] = paths
    out.notes.append(
        "backup.include: "
        + (f"include = {paths}" if paths else "nothing to add")
        + "; every snapshot holds the whole workspace"
        + (f" ({', '.join(inside)} included)" if inside else "")
    )
