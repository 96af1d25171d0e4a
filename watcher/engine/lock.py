"""Per-config locks built on ``flock``: the kernel releases them when their holder dies, so a
lock is never stale and never has to be removed by hand."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio

from watcher.errors import SyncFailed
from watcher.fsutil import WriteFailed

POLL = 0.1


class LockHeld(SyncFailed):
    """The lock is held by another process (``pid``, when known)."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


def holder_pid(path: Path) -> int | None:
    """The pid written into the lock file by its holder, if readable."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _try_lock(path: Path) -> int | None:
    """The locked file's descriptor, or None when another process holds the lock. A lock file
    that cannot be created (full disk, read-only folder) raises :class:`WriteFailed`."""
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
        os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _release(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing drops the flock


@contextmanager
def hold_lock(path: Path, what: str) -> Iterator[None]:
    """Take the lock at once or raise :class:`LockHeld` naming the holder's pid."""
    fd = _try_lock(path)
    if fd is None:
        pid = holder_pid(path)
        raise LockHeld(f"{what} is already running (pid {pid})", pid)
    try:
        yield
    finally:
        _release(fd)


@asynccontextmanager
async def wait_lock(path: Path, what: str, wait: float) -> AsyncIterator[None]:
    """Take the lock, waiting up to ``wait`` seconds, else raise :class:`LockHeld`."""
    deadline = time.monotonic() + wait
    while (fd := _try_lock(path)) is None:
        if time.monotonic() >= deadline:
            pid = holder_pid(path)
            raise LockHeld(
                f"another {what} holds the run lock (pid {pid}); waited {wait:.0f} s", pid
            )
        await anyio.sleep(POLL)
    try:
        yield
    finally:
        _release(fd)


def lock_holder(path: Path) -> int | None:
    """The pid holding the lock at ``path``, or ``None`` when nobody holds it."""
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return holder_pid(path) or -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
