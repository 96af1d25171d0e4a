"""Parse and validate the ``[transfer]`` table (rclone's transfer knobs).

``extra_flags`` may tune how rclone moves data (``--fast-list``, ``--checksum``,
``--s3-chunk-size=64M``, …) but never what is deleted, overwritten or skipped, where files go,
or anything the tool itself sets or reads (its rclone.conf, its JSON log, its timeouts): such a
flag is refused with one line naming it and what to use instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from watcher.config.model import TransferConfig
from watcher.errors import ConfigError

TRANSFER_KEYS = frozenset(
    {"bwlimit", "tpslimit", "transfers", "checkers", "multi_thread_streams", "extra_flags"}
)

#: Expands ``${VAR}`` in a string value of the dotted key (raises ConfigError when unset).
Expand = Callable[[str, str], str]

_FILTER = "it changes which files are synced (and so deleted); use the exclude key"
_DELETES = "it changes what is deleted or overwritten, which the tool's safety checks decide"
_OWNED = "the tool sets it itself on every call"
_LOGS = "the tool reads rclone's JSON log to know what was transferred; leave logging to it"
_SECRET = "secrets never go into argv; put them in the provider table or secrets_file"  # noqa: S105

#: Refused flags by exact name, with the reason or what to use instead.
REFUSED: Mapping[str, str] = {
    "--backup-dir": _DELETES,
    "--compare-dest": _DELETES,
    "--copy-dest": _DELETES,
    "--update": _DELETES + " (with a move it deletes a source it did not copy)",
    "--ignore-existing": _DELETES,
    "--ignore-errors": _DELETES + " (it deletes even after IO errors)",
    "--immutable": _DELETES,
    "--max-delete": "use the max_delete key (rclone's stops half-way)",
    "--max-delete-size": "use the max_delete key (rclone's stops half-way)",
    "--max-size": _FILTER,
    "--max-age": _FILTER,
    "--max-depth": _FILTER,
    "--ignore-case": _FILTER,
    "--max-transfer": "a run cut short counts as failed and is retried; use the timeout key",
    "--max-duration": "a run cut short counts as failed and is retried; use the timeout key",
    "--dry-run": "use `workspace-sync sync --dry-run`",
    "--interactive": "the tool runs rclone unattended",
    "--progress": "the tool reads rclone's output; `sync` shows progress on a terminal",
    "--config": "use the rclone_config key",
    "--cache-dir": _OWNED,
    "--color": _OWNED,
    "--use-json-log": _LOGS,
    "--syslog": _LOGS,
    "--verbose": "use workspace-sync's -v",
    "--quiet": "use workspace-sync's -q",
    "--retries": _OWNED + " (the daemon retries whole runs with backoff)",
    "--low-level-retries": _OWNED,
    "--timeout": "use the timeout key",
    "--contimeout": "use the timeout key",
    "--copy-links": "use the copy_symlinks key",
    "--skip-links": "use the copy_symlinks key",
    "--links": "use the copy_symlinks key",
    "--conflict-resolve": "use the conflict_resolve key",
    "--workdir": _OWNED,
    "--max-lock": _OWNED,
    "--recover": _OWNED,
    "--resilient": _OWNED,
    "--check-access": _OWNED,
    "--force": "use `workspace-sync sync --force` for one run",
    "--rc": "it opens a remote-control port",
    "--bwlimit": "use transfer.bwlimit",
    "--tpslimit": "use transfer.tpslimit",
    "--transfers": "use transfer.transfers",
    "--checkers": "use transfer.checkers",
    "--multi-thread-streams": "use transfer.multi_thread_streams",
}
#: Refused flag families (every flag whose name starts so), with the reason.
REFUSED_PREFIXES: tuple[tuple[str, str], ...] = (
    ("--delete-", _DELETES),
    ("--suffix", _DELETES),
    ("--files-from", _FILTER),
    ("--filter", _FILTER),
    ("--include", _FILTER),
    ("--exclude", _FILTER),
    ("--min-", _FILTER),
    ("--metadata-include", _FILTER),
    ("--metadata-exclude", _FILTER),
    ("--metadata-filter", _FILTER),
    ("--resync", "use `workspace-sync sync --resync`"),
    ("--conflict-", _OWNED),
    ("--log-", _LOGS),
    ("--stats", _LOGS),
    ("--dump", "it can write secrets (auth headers) into the log"),
    ("--rc-", "it opens a remote-control port"),
    ("--header", "headers often carry credentials, and argv is visible to every user"),
)
_SECRET_HINTS = ("pass", "secret", "token", "credential", "key", "sas-", "connection-string")

_SIZE = r"(?:off|(?:\d+\.?\d*|\.\d+)(?:[kmgtpe](?:i|ib)?|b)?)"
_PAIR = re.compile(rf"^{_SIZE}(?::{_SIZE})?$", re.IGNORECASE)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = frozenset(
    [*_DAYS, "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
)
_WHEN = re.compile(r"^(?:([A-Za-z]+)-)?([01]\d|2[0-3]):([0-5]\d)$")


def parse_transfer(path: Path, raw: Any, expand: Expand) -> TransferConfig:
    """Validate the ``[transfer]`` table ``raw`` of the config at ``path``."""
    if not isinstance(raw, dict):
        raise _error(path, "transfer", raw, "expected a [transfer] table")
    for key in raw:
        if key not in TRANSFER_KEYS:
            raise ConfigError(
                f"{path}: unknown key 'transfer.{key}'; valid keys: "
                + ", ".join(sorted(f"transfer.{k}" for k in TRANSFER_KEYS))
            )
    values: dict[str, Any] = {}
    if "bwlimit" in raw:
        values["bwlimit"] = _bwlimit(path, expand, raw["bwlimit"])
    if "tpslimit" in raw:
        values["tpslimit"] = _tpslimit(path, raw["tpslimit"])
    for key, low in (("transfers", 1), ("checkers", 1), ("multi_thread_streams", 0)):
        if key in raw:
            values[key] = _count(path, key, raw[key], low)
    if "extra_flags" in raw:
        values["extra_flags"] = _extra_flags(path, expand, raw["extra_flags"])
    return TransferConfig(**values)


def _error(path: Path, key: str, value: Any, allowed: str) -> ConfigError:
    shown = repr(value) if not isinstance(value, dict) else "a table"
    return ConfigError(f"{path}: key '{key}': {shown} is not allowed; {allowed}")


def _bwlimit(path: Path, expand: Expand, value: Any) -> str:
    allowed = (
        'expected rclone\'s --bwlimit syntax: a rate ("1M", "512k", "off", "10M:1M" for '
        'upload:download) or a timetable ("08:00,512k 12:00,10M Sat-00:00,off")'
    )
    if not isinstance(value, str):
        raise _error(path, "transfer.bwlimit", value, allowed)
    text = expand("transfer.bwlimit", value).strip()
    if not bwlimit_valid(text):
        raise _error(path, "transfer.bwlimit", value, allowed)
    return text


def bwlimit_valid(text: str) -> bool:
    """True when ``text`` is an rclone ``--bwlimit`` value: one rate (``UP[:DOWN]``, each a
    size with an optional b/k/M/G/T/P/E suffix, or ``off``), or a timetable of space-separated
    ``[DAY-]HH:MM,RATE`` entries."""
    if "," not in text and " " not in text:
        return bool(text) and bool(_PAIR.match(text))
    entries = text.split()
    if not entries:
        return False
    for entry in entries:
        when, sep, rate = entry.partition(",")
        match = _WHEN.match(when)
        if not sep or match is None or not _PAIR.match(rate):
            return False
        if match.group(1) is not None and match.group(1).lower() not in _DAY_NAMES:
            return False
    return True


def _tpslimit(path: Path, value: Any) -> float:
    number_ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number_ok or not math.isfinite(value) or value < 0:
        raise _error(
            path, "transfer.tpslimit", value, "expected HTTP transactions per second (0 = off)"
        )
    return float(value)


def _count(path: Path, key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 1024:
        raise _error(path, f"transfer.{key}", value, f"expected a whole number from {low} to 1024")
    return value


def _extra_flags(path: Path, expand: Expand, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _error(path, "transfer.extra_flags", value, "expected a list of strings")
    flags = tuple(expand("transfer.extra_flags", v) for v in value)
    for flag in flags:
        problem = refused_flag(flag)
        if problem is not None:
            raise ConfigError(
                f"{path}: key 'transfer.extra_flags': {flag!r} is refused: {problem}; "
                "remove it from extra_flags"
            )
    return flags


def refused_flag(flag: str) -> str | None:
    """Why the extra flag ``flag`` (one ``--name`` or ``--name=value`` entry) is refused, or
    ``None`` when it may be passed to rclone."""
    if not flag.startswith("--") or flag == "--":
        if flag.startswith("-") and flag != "-":
            return "write rclone's long flag name (--checksum, not -c) so it can be checked"
        return (
            'expected a flag starting with "--" (a flag with a value is one entry, "--name=value")'
        )
    name = flag.split("=", 1)[0].lower()
    if name in REFUSED:
        return REFUSED[name]
    for prefix, reason in REFUSED_PREFIXES:
        if name.startswith(prefix):
            return reason
    if any(hint in name for hint in _SECRET_HINTS):
        return _SECRET
    return None
