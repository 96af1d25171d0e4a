"""workspace-sync: keep an agent workspace in sync with cloud storage through rclone."""

from watcher.version import VERSION

__all__ = ["VERSION"]
