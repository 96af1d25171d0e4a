"""The identity of a *pair*: one sync root and one remote root, however a config file spells them.

Two config files that name the same workspace folder and the same remote location (a relative
vs an absolute path, a path through a symlink, another ``remote_name``) describe one pair; its
run lock, daemon lock and drain journal are shared, so only one drain at a time moves files from
that remote ``_outbox`` into that ``_inbox``. The identity holds only non-secret location
settings: never ``remote_name``, never tokens, keys or passwords.

Pure apart from resolving paths (``realpath`` only reads the file system; tests can pass their
own resolver).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from watcher.config import Config, is_secret
from watcher.plan.cycle import local_remote_dir

Resolver = Callable[[str], str]

#: Options of the built-in provider tables that say *where* the files are (never secrets).
LOCATION_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "s3": ("endpoint", "bucket"),
    "dropbox": ("app_folder",),
    "gdrive": ("team_drive", "root_folder_id"),
    "onedrive": ("drive_id", "drive_type"),
}

#: Substrings that mark a ``[custom] rclone_options`` entry as part of the remote's location.
LOCATION_HINTS = (
    "host",
    "url",
    "endpoint",
    "bucket",
    "port",
    "user",
    "account",
    "region",
    "drive",
    "root",
    "share",
    "site",
    "library",
    "container",
    "domain",
)

#: Options whose values are URLs or host names: compared without case or a trailing slash.
_URL_LIKE = ("url", "endpoint", "host", "domain")


@dataclass(frozen=True)
class PairIdentity:
    """What makes two configs the same pair: the real sync root, the remote's backend type, its
    non-secret location settings and the remote path inside it."""

    sync_root: str
    remote_type: str
    location: tuple[tuple[str, str], ...]
    remote_path: str

    def key(self) -> str:
        """A short stable hash of the identity (the name of the pair's state folder)."""
        text = json.dumps(
            [self.sync_root, self.remote_type, list(self.location), self.remote_path],
            ensure_ascii=False,
        )
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def describe(self) -> str:
        """One line for logs: ``/real/sync/root <-> s3 endpoint=...,bucket=... path``."""
        where = ",".join(f"{k}={v}" for k, v in self.location)
        return f"{self.sync_root} <-> {self.remote_type} {where} {self.remote_path}".rstrip()


def normalize_remote_path(path: str) -> str:
    """``/a//b/./c/`` -> ``a/b/c``: the spellings rclone treats as one folder."""
    return "/".join(part for part in path.split("/") if part not in ("", "."))


def _value(option: str, value: Any) -> str:
    text = str(value).strip()
    if any(hint in option.lower() for hint in _URL_LIKE):
        text = text.rstrip("/").lower()
    return text


def _custom_location(options: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            (str(name), _value(str(name), value))
            for name, value in options.items()
            if not is_secret("custom", str(name))
            and any(hint in str(name).lower() for hint in LOCATION_HINTS)
        )
    )


def pair_identity(cfg: Config, realpath: Resolver = os.path.realpath) -> PairIdentity:
    """The pair ``cfg`` syncs. A ``local`` remote is identified by the real path of the folder
    that holds the remote root (``[local] path`` joined with ``remote_path``, so any split of
    the same folder between the two keys is one pair)."""
    sync_root = realpath(str(cfg.sync_root))
    options = cfg.provider_options
    remote_dir = local_remote_dir(cfg)
    if remote_dir is not None:
        return PairIdentity(sync_root, "local", (("path", realpath(str(remote_dir))),), "")
    if cfg.provider == "custom":
        remote_type = str(options.get("rclone_type", "")).strip()
        location = _custom_location(options.get("rclone_options", {}))
    else:
        remote_type = cfg.provider
        location = tuple(
            (name, _value(name, options[name]))
            for name in LOCATION_OPTIONS.get(cfg.provider, ())
            if name in options and not is_secret(cfg.provider, name)
        )
    return PairIdentity(sync_root, remote_type, location, normalize_remote_path(cfg.remote_path))
