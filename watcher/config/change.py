"""What a config edit changes (pure): a *new pairing* (what is synced with what, and so what a
run may delete where) or only *live* settings that a running daemon applies at once.

Used by the daemon when ``sync.toml`` (or its ``secrets_file``) changes while it watches, and by
``sync`` to record which pairing the user confirmed. Secrets never enter a key or a fingerprint
in clear: they are hashed together with the file bytes, never printed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from watcher.config.model import Config, is_secret

#: Keys whose change makes a new pairing: the sync root, the remote and how they are paired.
PAIRING_KEYS: tuple[str, ...] = (
    "mode",
    "workspace",
    "local_path",
    "remote_path",
    "provider",
    "provider_options",
)


@dataclass(frozen=True)
class ConfigChange:
    """The keys an edit changed, split into those that make a new pairing and the live rest."""

    pairing: tuple[str, ...] = ()
    live: tuple[str, ...] = ()

    @property
    def new_pairing(self) -> bool:
        """True when the edit changes what is synced with what (needs the user's confirmation)."""
        return bool(self.pairing)

    @property
    def empty(self) -> bool:
        """True when nothing that matters changed (comments, spacing, key order)."""
        return not self.pairing and not self.live


def _location(cfg: Config) -> dict[str, object]:
    """The provider table without its secrets (a token or key change is not a new pairing)."""
    out: dict[str, object] = {}
    for key, value in cfg.provider_options.items():
        if key == "rclone_options" and isinstance(value, Mapping):
            out[key] = {k: v for k, v in value.items() if not is_secret("custom", k)}
        elif not is_secret(cfg.provider, key):
            out[key] = value
    return out


def _value(cfg: Config, key: str) -> object:
    if key == "provider_options":
        return _location(cfg)
    if key == "config_path":
        return None
    return getattr(cfg, key)


def classify_change(old: Config, new: Config) -> ConfigChange:
    """Which keys differ between the running config ``old`` and the edited ``new``: pairing
    keys (:data:`PAIRING_KEYS`) and live ones (everything else, secrets included)."""
    pairing = tuple(k for k in PAIRING_KEYS if _value(old, k) != _value(new, k))
    live = tuple(
        f.name
        for f in fields(Config)
        if f.name not in PAIRING_KEYS and getattr(old, f.name) != getattr(new, f.name)
    )
    if old.provider_options != new.provider_options and "provider_options" not in pairing:
        live += ("secrets",)
    return ConfigChange(pairing, live)


def _plain(value: object) -> object:
    return dict(value) if isinstance(value, Mapping) else str(value)


def pairing_key(cfg: Config) -> str:
    """A short stable hash of ``cfg``'s pairing (:data:`PAIRING_KEYS`, no secrets)."""
    data = [_value(cfg, key) for key in PAIRING_KEYS]
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


@dataclass(frozen=True)
class FileStamp:
    """The config file (and secrets file) as found on disk: a hash of their bytes and the
    newest mtime; ``None`` fields when the config file cannot be read."""

    fingerprint: str | None
    mtime: float | None


def file_stamp(config_path: Path, secrets_file: Path | None = None) -> FileStamp:
    """Hash the bytes of the config file and, when given, its secrets file."""
    digest = hashlib.sha256()
    mtimes: list[float] = []
    for index, path in enumerate((config_path, secrets_file)):
        if path is None:
            continue
        try:
            data = path.read_bytes()
            mtimes.append(path.stat().st_mtime)
        except OSError:
            if index == 0:
                return FileStamp(None, None)
            data = b"\0missing"
        digest.update(len(data).to_bytes(8, "big") + data)
    return FileStamp(digest.hexdigest()[:16], max(mtimes))
