"""Give a staged inbound file its final name inside ``_inbox``, never following a symlink and
never replacing anything.

Every folder on the way is opened relative to the one above it with ``O_NOFOLLOW``, so a
symlink planted anywhere under ``_inbox`` (``_inbox/reports -> /etc``) is refused instead of
followed, even if it appears between a check and the link (no check-then-use race). A file that
cannot be placed raises :class:`PlaceError` with the reason; the caller keeps it in the outbox.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class PlaceError(OSError):
    """A staged file could not be given its name in ``_inbox``; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def _open_child(parent_fd: int, name: str, shown: str, *, create: bool) -> int:
    """Open folder ``name`` inside ``parent_fd`` without following a symlink (created 0700
    when missing and ``create``)."""
    for _attempt in range(2):
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            if not create:
                raise
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=parent_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise PlaceError(_blocker(parent_fd, name, shown)) from None
            raise
    return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


def _blocker(parent_fd: int, name: str, shown: str) -> str:
    """Why ``name`` cannot be used as a folder: a symlink, or another kind of file."""
    try:
        st = os.lstat(name, dir_fd=parent_fd)
    except OSError:
        return f"{shown} cannot be used as a folder"
    if stat.S_ISLNK(st.st_mode):
        return f"{shown} is a symlink; the drain never follows links under _inbox"
    return f"{shown} is a file, not a folder"


@contextlib.contextmanager
def open_folder(inbox: Path, parts: tuple[str, ...], *, create: bool) -> Iterator[int]:
    """A descriptor of ``inbox/parts…``, every component opened without following links."""
    fd = os.open(inbox, _DIR_FLAGS)
    try:
        shown = inbox.name
        for part in parts:
            shown = f"{shown}/{part}"
            child = _open_child(fd, part, shown, create=create)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def place(staged: Path, inbox: Path, target: str) -> None:
    """Link ``staged`` to ``inbox/target`` (a relative POSIX path), creating folders, never
    replacing an existing name and never following a symlink; then remove ``staged``.

    Raises :class:`PlaceError` when the name is taken or a folder on the way is a file or a
    symlink, and :class:`OSError` for other local failures (a full disk, a read-only inbox).
    """
    *folders, name = target.split("/")
    with open_folder(inbox, tuple(folders), create=True) as fd:
        try:
            os.link(staged, name, dst_dir_fd=fd, follow_symlinks=False)
        except FileExistsError:
            raise PlaceError(f"_inbox/{target} appeared meanwhile") from None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise PlaceError(f"the name {name!r} is too long for this file system") from None
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
                raise
            _rename_no_replace(staged, name, fd)
            return
    staged.unlink()


def _rename_no_replace(staged: Path, name: str, fd: int) -> None:
    """Where hard links are not allowed: move ``staged`` to ``name`` unless it exists."""
    with contextlib.suppress(FileNotFoundError):
        os.lstat(name, dir_fd=fd)
        raise PlaceError(f"{name} appeared meanwhile")
    os.rename(staged, name, dst_dir_fd=fd)


def landed_stat(inbox: Path, target: str) -> tuple[int, float] | None:
    """Size and mtime of the regular file ``inbox/target`` (no symlink followed), or None."""
    *folders, name = target.split("/")
    try:
        with open_folder(inbox, tuple(folders), create=False) as fd:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except (OSError, PlaceError):
        return None
    return (st.st_size, st.st_mtime) if stat.S_ISREG(st.st_mode) else None


def in_use(inbox: Path, target: str) -> bool:
    """True when something (file, folder, link) already has the name ``inbox/target``."""
    *folders, name = target.split("/")
    try:
        with open_folder(inbox, tuple(folders), create=False) as fd:
            os.lstat(name, dir_fd=fd)
    except (OSError, PlaceError):
        return False
    return True
