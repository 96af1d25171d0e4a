"""Everything that talks to rclone: discovery, the tool's rclone.conf, and the runner."""

from watcher.rclone.discover import MIN_VERSION, RcloneBinary, find_rclone, parse_version
from watcher.rclone.ops import (
    Entry,
    backend_options,
    ensure_config_file,
    list_files,
    modtime_precision,
    obscure,
)
from watcher.rclone.result import RcloneResult
from watcher.rclone.runner import Rclone, terminate

__all__ = [
    "MIN_VERSION",
    "Entry",
    "Rclone",
    "RcloneBinary",
    "RcloneResult",
    "backend_options",
    "ensure_config_file",
    "find_rclone",
    "list_files",
    "modtime_precision",
    "obscure",
    "parse_version",
    "terminate",
]
