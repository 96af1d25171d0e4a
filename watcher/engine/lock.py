"""Locks built on ``flock``: the kernel releases them when their holder dies, so a lock is never
stale and never has to be removed by hand. The holder writes its pid (first line) and config path
(second line) into the lock file so that a second process can name it."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from watcher.errors import SyncFailed
from watcher.fsutil import WriteFailed

#: How long a one-shot ``sync`` or ``backup`` waits for another run of the same pair to finish.
LOCK_WAIT = 60.0

POLL = 0.1


class LockHeld(SyncFailed):
    """The lock is held by another process (``pid``, when known)."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, as written into the lock file: a pid and, when known, its config."""

    pid: int | None
    config: str | None = None

    def describe(self) -> str:
        """``pid 123, config /path/sync.toml`` (or just the pid)."""
        return f"pid {self.pid}" + (f", config {self.config}" if self.config else "")


def read_holder(path: Path) -> LockHolder:
    """The holder recorded in the lock file (fields ``None`` when unreadable). The first line
    is the pid; the second, when present, the holder's config path."""
    try:
        lines = path.read_bytes().decode("utf-8", "surrogateescape").split("\n")
    except OSError:
        return LockHolder(None)
    first = lines[0].strip()
    config = "\n".join(lines[1:]).removesuffix("\n") or None
    return LockHolder(int(first) if first.isdigit() else None, config)


def holder_pid(path: Path) -> int | None:
    """The pid written into the lock file by its holder, if readable."""
    return read_holder(path).pid


def _try_lock(path: Path, owner: str | None = None) -> int | None:
    """The locked file's descriptor, or None when another process holds the lock. The holder's
    pid and ``owner`` (its config path) are written into the file. A lock file that cannot be
    created (full disk, read-only folder) raises :class:`WriteFailed`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise WriteFailed(path, exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    with contextlib.suppress(OSError):  # the pid only names the holder to a second process
        os.ftruncate(fd, 0)
        text = f"{os.getpid()}\n" + (f"{owner}\n" if owner else "")
        os.write(fd, text.encode("utf-8", "surrogateescape"))
    return fd


def _release(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing drops the flock


@contextmanager
def hold_lock(path: Path, busy: str, owner: str | None = None) -> Iterator[None]:
    """Take the lock at once or raise :class:`LockHeld`: ``busy`` (e.g. "workspace-sync watch
    is already running") followed by the holder's pid and config path."""
    fd = _try_lock(path, owner)
    if fd is None:
        holder = read_holder(path)
        raise LockHeld(f"{busy} ({holder.describe()})", holder.pid)
    try:
        yield
    finally:
        _release(fd)


@asynccontextmanager
async def wait_lock(
    path: Path, what: str, wait: float, owner: str | None = None
) -> AsyncIterator[None]:
    """Take the lock, waiting up to ``wait`` seconds, else raise :class:`LockHeld` naming the
    holder's pid and config path. ``owner`` is this process's config path."""
    deadline = time.monotonic() + wait
    while (fd := _try_lock(path, owner)) is None:
        if time.monotonic() >= deadline:
            holder = read_holder(path)
            raise LockHeld(
                f"another {what} holds the run lock of this workspace and remote "
                f"({holder.describe()}); waited {wait:.0f} s",
                holder.pid,
            )
        await anyio.sleep(POLL)
    try:
        yield
    finally:
        _release(fd)


def lock_owner(path: Path) -> LockHolder | None:
    """Who holds the lock at ``path`` (pid ``-1`` when unreadable), or ``None`` when nobody
    holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = read_holder(path)
        return LockHolder(holder.pid or -1, holder.config)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def lock_holder(path: Path) -> int | None:
    """The pid holding the lock at ``path``, or ``None`` when nobody holds it."""
    owner = lock_owner(path)
    return None if owner is None else owner.pid
