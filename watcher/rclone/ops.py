"""Small rclone operations with parsed results: listings, obscuring, the backend catalogue, and
keeping the tool's rclone.conf current."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from watcher.config import Config
from watcher.errors import ConfigError, SyncFailed
from watcher.plan.snapshots import backup_remote_name
from watcher.rclone.conffile import (
    CRYPT_SECRETS,
    TOKEN_KEY,
    backup_fingerprint,
    check_values,
    fingerprint,
    read_section,
    render_backup_section,
    render_file,
    render_section,
    write_private,
)
from watcher.rclone.encoding import line_safe, reachable
from watcher.rclone.result import RcloneResult
from watcher.rclone.runner import Rclone

#: Seconds allowed for quick metadata calls (listing a folder, obscuring a value).
QUICK_TIMEOUT = 60.0


@dataclass(frozen=True)
class Entry:
    """A file in a listing: POSIX path relative to the listed root, size, modification time,
    and the content hash when the listing asked for one (``""`` otherwise)."""

    path: str
    size: int
    mtime: float
    hash: str = ""

    @classmethod
    def from_lsjson(cls, item: dict[str, Any]) -> Entry:
        """Build from one element of ``rclone lsjson`` output."""
        hashes = item.get("Hashes") or {}
        digest = next((str(v) for v in hashes.values() if v), "")
        return cls(
            str(item["Path"]),
            int(item.get("Size", -1)),
            parse_time(item.get("ModTime")),
            digest,
        )


_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$")


def parse_time(text: Any) -> float:
    """Parse rclone's RFC 3339 time (nanoseconds allowed, ``Z``, ``+00:00`` or ``+0000``) to a
    POSIX timestamp; 0 when absent or unparsable."""
    if not isinstance(text, str):
        return 0.0
    match = _TIME.match(text.strip())
    if not match:
        return 0.0
    head, frac, tz = match.groups()
    if not tz or tz == "Z":
        tz = "+00:00"
    elif ":" not in tz:
        tz = f"{tz[:3]}:{tz[3:]}"
    fraction = float("0." + frac) if frac else 0.0
    return datetime.fromisoformat(head + tz).timestamp() + fraction


async def list_files(
    rc: Rclone,
    root: str,
    args: list[str] | None = None,
    *,
    timeout: float | None = None,
    hash_type: str | None = None,
) -> list[Entry] | None:
    """All files under ``root`` (recursive, after the filter ``args``; with ``hash_type``,
    each with that hash); ``None`` when ``root`` does not exist (also when an FTP server says so
    with a ``501``). Any other failure raises :class:`SyncFailed`."""
    hashing = ["--hash", "--hash-type", hash_type] if hash_type else []
    result = await rc.run(
        ["lsjson", "-R", "--files-only", "--no-mimetype", *hashing, as_folder(root)] + (args or []),
        per_file=False,
        timeout=timeout,
        quiet_errors=True,
    )
    if result.dir_not_found:
        return None
    _check(result, f"listing {root}")
    return [Entry.from_lsjson(item) for item in json.loads(result.stdout or b"[]")]


def as_folder(root: str) -> str:
    """``root`` with a trailing ``/`` when it is a remote path (``name:path``), so rclone takes
    it for a folder at once. Without it, an object store first asks whether ``path`` is a
    file, and when that request fails (connection refused, 403) a filtered command reports
    only "can't limit to single files when using filters", hiding the cause."""
    name, sep, path = root.partition(":")
    if not sep or "/" in name or not path or path.endswith("/"):
        return root
    return root + "/"


async def _features(rc: Rclone, root: str, timeout: float = QUICK_TIMEOUT) -> RcloneResult:
    """``rclone backend features ROOT`` (JSON on stdout)."""
    return await rc.run(
        ["backend", "features", root], per_file=False, timeout=timeout, quiet_errors=True
    )


async def modtime_precision(rc: Rclone, root: str) -> float | None:
    """How precisely the backend of ``root`` keeps modification times, in seconds (``rclone
    backend features``: 1e-9 for a local folder, 1e-3 on S3, 100 years for a WebDAV server
    without modtimes); ``None`` when rclone cannot say."""
    result = await _features(rc, root, min(QUICK_TIMEOUT, rc.timeout))
    try:
        precision = json.loads(result.stdout)["Precision"] if result.ok else None
    except (ValueError, KeyError, TypeError):
        return None
    return precision / 1e9 if isinstance(precision, int) and precision > 0 else None


async def hash_types(rc: Rclone, root: str) -> tuple[str, ...]:
    """The hash types the backend of ``root`` supports (``rclone backend features``), in
    rclone's order; empty when it has none."""
    result = await _features(rc, root)
    _check(result, f"reading the features of {root}")
    features = json.loads(result.stdout or b"{}")
    return tuple(str(h) for h in features.get("Hashes") or ())


async def copy_file(rc: Rclone, src: str, dst: str) -> bool:
    """``rclone copyto SRC DST`` (same side: server-side where the backend can), never
    replacing an existing ``dst``; True when it was copied, False when ``dst`` existed."""
    result = await rc.run(["copyto", "--ignore-existing", src, dst])
    _check(result, f"copying {src} to {dst}")
    return bool(result.transferred)


async def identical_files(rc: Rclone, src: str, dst: str, paths: Iterable[str]) -> set[str]:
    """The ``paths`` whose bytes are the same under ``src`` and ``dst``, read from both sides
    (``rclone check --download``: for backends with neither a common hash nor modtimes, where
    nothing else can tell). Names a list line cannot carry are never called identical; empty
    when rclone cannot tell."""
    listed = sorted(p for p in paths if line_safe(p) and reachable(p))
    if not listed:
        return set()
    args = ["check", "--download", src, dst, "--match", "-"]
    result = await rc.run(args, per_file=False, quiet_errors=True, files_from=listed)
    if result.timed_out or result.exit_code not in (0, 1):
        return set()
    matched = result.stdout.decode("utf-8", "surrogateescape").splitlines()
    return set(matched) & set(listed)


async def flags_problem(rc: Rclone, flags: Iterable[str]) -> str | None:
    """What rclone says of the extra ``flags`` (``rclone version FLAGS``: they go to every
    call, so each must be one of rclone's global or backend flags), or ``None`` when it takes
    them."""
    listed = list(flags)
    if not listed:
        return None
    said: list[str] = []

    def hear(event: dict[str, Any]) -> None:
        msg = str(event.get("msg", ""))
        if msg.startswith("Error:") or event.get("level") == "error":
            said.append(msg.removeprefix("Error:").strip())

    result = await rc.run(
        ["version", *listed], per_file=False, timeout=QUICK_TIMEOUT, on_event=hear
    )
    if result.ok:
        return None
    return said[0] if said else result.message()


def _check(result: RcloneResult, what: str) -> None:
    if not result.ok:
        raise SyncFailed(f"{what} failed: {result.message()}")


async def obscure(rc: Rclone, value: str) -> str:
    """``rclone obscure -``: the value goes through stdin, never argv."""
    result = await rc.run(
        ["obscure", "-"], stdin=value.encode(), per_file=False, timeout=QUICK_TIMEOUT
    )
    _check(result, "rclone obscure")
    return result.stdout.decode().strip()


@lru_cache(maxsize=4)
def _parse_catalogue(raw: bytes) -> dict[str, dict[str, bool]]:
    catalogue: dict[str, dict[str, bool]] = {}
    for backend in json.loads(raw):
        options = {opt["Name"]: bool(opt.get("IsPassword")) for opt in backend["Options"]}
        for name in [backend["Name"], *(backend.get("Aliases") or [])]:
            catalogue[name] = options
    return catalogue


async def backend_options(rc: Rclone, rclone_type: str) -> dict[str, bool]:
    """The options rclone knows for backend ``rclone_type``, mapped to whether rclone stores
    them obscured. Raises :class:`ConfigError` for an unknown backend."""
    result = await rc.run(["config", "providers"], per_file=False, timeout=QUICK_TIMEOUT)
    _check(result, "rclone config providers")
    catalogue = _parse_catalogue(result.stdout)
    if rclone_type not in catalogue:
        raise ConfigError(
            f"custom.rclone_type: {rclone_type!r} is not an rclone backend; known: "
            + ", ".join(sorted(catalogue))
        )
    return catalogue[rclone_type]


async def ensure_config_file(rc: Rclone, cfg: Config, fingerprint_file: Path) -> bool:
    """Write the remote section of ``cfg`` (and, with ``[backup] enabled``, the crypt section
    ``<remote_name>-backup``) into ``rc.config_file`` when the provider or backup settings
    changed since the last write (or the file or a section is gone). Returns True when
    written."""
    section = render_section(cfg)
    backup = render_backup_section(cfg)
    new_fp = backup_fingerprint(cfg, fingerprint(cfg.remote_name, section))
    token_fp = fingerprint(cfg.remote_name, section, {TOKEN_KEY})
    path = rc.config_file
    existing = read_section(path, cfg.remote_name) if path.exists() else None
    has_backup = backup is None or (
        existing is not None and read_section(path, backup_remote_name(cfg)) is not None
    )
    stored = _read_fingerprints(fingerprint_file)
    if existing is not None and has_backup and stored.get("settings") == new_fp:
        return False
    if cfg.provider == "custom":
        section = await _custom_section(rc, section)
    if (
        existing is not None
        and existing.get(TOKEN_KEY)
        and TOKEN_KEY in section
        and stored.get("token") == token_fp
    ):
        # rclone refreshed the OAuth token in place; the configured one is unchanged: keep it.
        section[TOKEN_KEY] = existing[TOKEN_KEY]
    check_values(cfg, section)
    extra: dict[str, dict[str, str]] = {}
    if backup is not None:
        for key in CRYPT_SECRETS:
            backup[key] = await obscure(rc, backup[key])
        extra[backup_remote_name(cfg)] = backup
    write_private(path, render_file(cfg.remote_name, section, extra))
    write_private(fingerprint_file, json.dumps({"settings": new_fp, "token": token_fp}))
    return True


def _read_fingerprints(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


async def _custom_section(rc: Rclone, section: dict[str, str]) -> dict[str, str]:
    options = await backend_options(rc, section["type"])
    out = {"type": section["type"]}
    for key, value in section.items():
        if key == "type":
            continue
        if key not in options:
            raise ConfigError(
                f"custom.rclone_options.{key}: not an option of rclone backend "
                f"{section['type']!r}; its options: " + ", ".join(sorted(options))
            )
        out[key] = await obscure(rc, value) if options[key] else value
    return out
