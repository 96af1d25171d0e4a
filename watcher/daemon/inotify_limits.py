"""inotify limits: which folders the kernel really watches for this process, the limit in
force, and the warning that names the sysctl to raise (parsing and text are pure)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SYSCTL = "fs.inotify.max_user_watches"
#: The system-wide limit (per user); ``/proc/sys/user/...`` is the one of this user namespace.
LIMIT_FILES = (
    ("fs.inotify.max_user_watches", Path("/proc/sys/fs/inotify/max_user_watches")),
    ("user.max_inotify_watches", Path("/proc/sys/user/max_inotify_watches")),
)
QUEUE_SYSCTL = "fs.inotify.max_queued_events"
QUEUE_FILE = Path("/proc/sys/fs/inotify/max_queued_events")
#: Watches asked for beyond the folders counted: other programs and new folders need some.
MARGIN = 1024

Inode = tuple[int, int]
"""``(st_dev, st_ino)`` of a folder."""


@dataclass(frozen=True)
class Limit:
    """The lowest inotify watch limit in force and the sysctl that sets it."""

    name: str
    value: int | None


def kernel_dev(sdev: int) -> int:
    """The ``st_dev`` of a kernel-internal device number (as fdinfo prints it: major << 20)."""
    return os.makedev(sdev >> 20, sdev & 0xFFFFF)


def parse_fdinfo(text: str) -> Iterator[Inode]:
    """The folders an inotify fd's ``/proc/PID/fdinfo/FD`` text lists as watched."""
    for line in text.splitlines():
        if not line.startswith("inotify wd:"):
            continue
        fields = dict(part.split(":", 1) for part in line.split() if ":" in part)
        try:
            yield kernel_dev(int(fields["sdev"], 16)), int(fields["ino"], 16)
        except (KeyError, ValueError):
            continue


def watched_inodes(fdinfo: Path = Path("/proc/self/fdinfo")) -> set[Inode] | None:
    """Every folder any inotify fd of this process watches; ``None`` when that cannot be told
    (no /proc, or no fd lists inotify watches, as in some sandboxes): then nothing is checked."""
    found: set[Inode] = set()
    try:
        entries = list(fdinfo.iterdir())
    except OSError:
        return None
    for entry in entries:
        try:
            text = entry.read_text(errors="replace")
        except OSError:
            continue
        if "inotify wd:" in text:
            found.update(parse_fdinfo(text))
    return found or None


def folders(root: str) -> Iterator[tuple[str, Inode]]:
    """Every folder at or below ``root`` with its inode (symlinked folders are not entered)."""
    for top, _, _ in os.walk(root):
        try:
            st = os.lstat(top)
        except OSError:
            continue
        yield top, (st.st_dev, st.st_ino)


def unwatched(paths: Iterable[tuple[str, Inode]], watched: set[Inode]) -> list[tuple[str, Inode]]:
    """The folders among ``paths`` the kernel does not watch although it could (folders this
    process cannot read cannot be watched at all: they are not a limit)."""
    return [
        (path, inode)
        for path, inode in paths
        if inode not in watched and os.access(path, os.R_OK | os.X_OK)
    ]


def read_limit(files: tuple[tuple[str, Path], ...] = LIMIT_FILES) -> Limit:
    """The lowest watch limit readable from ``files`` (``value`` None when none is)."""
    best = Limit(SYSCTL, None)
    for name, path in files:
        try:
            value = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if best.value is None or value < best.value:
            best = Limit(name, value)
    return best


def needed_watches(folder_count: int) -> int:
    """The limit to ask for: the folders to watch plus a margin, rounded up to 1024."""
    wanted = folder_count + max(MARGIN, folder_count // 4)
    return -(-wanted // 1024) * 1024


def limit_message(
    limit: Limit, folder_count: int, root: str, poll: float, *, queued: int | None = None
) -> str:
    """The one warning for a full watch table (or, with ``queued``, the value of
    ``fs.inotify.max_queued_events``, a full event queue): the sysctl, its value, the count
    needed, and that ``root`` is polled from now on."""
    current = "unknown" if limit.value is None else str(limit.value)
    named = f"{limit.name} = {current}"
    if limit.name != SYSCTL:
        named += f" (in this user namespace; {SYSCTL} is the system-wide one)"
    needed = needed_watches(folder_count)
    fix = f"`sudo sysctl {SYSCTL}={needed}`"
    what = "inotify watch limit reached"
    if queued is not None:
        what = f"inotify event queue overflowed ({QUEUE_SYSCTL} = {queued})"
        fix += f" (and `sudo sysctl {QUEUE_SYSCTL}={max(queued, 8192) * 4}`)"
    return (
        f"{what} ({named}; the {folder_count} folders watched need about {needed}): polling "
        f"{root} every {poll:g} s (longer for a large tree) from now on, so no change is "
        f"missed; to get events again run {fix} and restart the daemon"
    )


def read_queue_limit(path: Path = QUEUE_FILE) -> int | None:
    """``fs.inotify.max_queued_events`` (None when unreadable)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


__all__ = [
    "Limit",
    "folders",
    "kernel_dev",
    "limit_message",
    "needed_watches",
    "parse_fdinfo",
    "read_limit",
    "read_queue_limit",
    "unwatched",
    "watched_inodes",
]
