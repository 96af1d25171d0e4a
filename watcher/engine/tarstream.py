"""Tar streams of the workspace, written into and read from a pipe (blocking; run in a thread).

The archive holds ``workspace/…`` (the workspace, user excludes applied, symlinks stored as
links, never followed) and ``include/<absolute path>/…`` for each extra ``include`` path. It is
written in PAX format straight into a file descriptor (the write end of the pipe whose read end is
``rclone rcat``'s stdin): no copy of the data ever lands on disk. Modification times go into the
PAX header with nanosecond precision, so both Python and GNU tar restore them exactly.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tarfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, cast

from loguru import logger

from watcher.plan.filters import PathFilter

#: Top folder of the workspace inside a snapshot.
WORKSPACE_DIR = "workspace"
#: Top folder of the extra ``include`` paths (each under its absolute path).
INCLUDE_DIR = "include"
#: Size of the tar stream's writes and of file reads.
CHUNK = 1 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


@dataclass
class TarStats:
    """What a tar stream holds; ``skipped`` names what could not be read (with the reason)."""

    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)


class OwnedFd:
    """A file descriptor that exactly one party closes: whoever :meth:`take` s it first."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """The descriptor (the caller now owns it), or ``None`` when already taken."""
        with self._lock:
            fd, self._fd = self._fd, None
        return fd

    def close(self) -> None:
        """Close the descriptor unless someone took it."""
        fd = self.take()
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def widen_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe buffer (Linux) so that tar and rclone block on each other less."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, CHUNK)


class _Exact:
    """Reads exactly ``size`` bytes of a file that may shrink meanwhile (zero-padded then), so
    the tar stream never breaks in the middle of a member."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.left, self.short = fh, size, False

    def read(self, n: int = -1) -> bytes:
        want = self.left if n < 0 else min(n, self.left)
        data = self.fh.read(want) if want else b""
        if want and not data:
            data, self.short = b"\0" * want, True
        self.left -= len(data)
        return data


class _PipeWriter:
    """tarfile's output: whole unbuffered writes to the pipe plus a position for ``tell``, so
    tarfile writes headers and file data straight through (its stream mode would copy every
    block through an extra buffer)."""

    def __init__(self, fd: int) -> None:
        self.fd, self.pos = fd, 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        self.pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self.pos


def _walk(root: Path, filt: PathFilter, stats: TarStats, rel_dir: str = "") -> Iterator[str]:
    """Relative paths under ``root`` (folders before their contents, names sorted), excluded
    ones and everything below an excluded folder left out; symlinks are not followed."""
    folder = root / rel_dir if rel_dir else root
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        stats.skipped.append(f"{folder}: {exc.strerror or exc}")
        return
    for entry in entries:
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if filt.excluded(rel, is_dir=is_dir):
            continue
        yield rel
        if is_dir:
            yield from _walk(root, filt, stats, rel)


def _exact_mtime(info: tarfile.TarInfo, st: os.stat_result) -> None:
    ns = st.st_mtime_ns
    info.mtime = ns / 1e9
    exact = f"{ns // 10**9}.{ns % 10**9:09d}".rstrip("0").rstrip(".")
    info.pax_headers = {**info.pax_headers, "mtime": exact}


def _add(tar: tarfile.TarFile, path: Path, arcname: str, stats: TarStats) -> None:
    """Add one file, folder or symlink (other kinds are skipped)."""
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC)
            with os.fdopen(fd, "rb", buffering=0) as fh:
                info = tar.gettarinfo(arcname=arcname, fileobj=fh)
                _exact_mtime(info, os.fstat(fh.fileno()))
                if info.type != tarfile.REGTYPE:  # a hard link to a member already stored
                    tar.addfile(info)
                    return
                reader = _Exact(fh, info.size)
                tar.addfile(info, reader)
                if reader.short:
                    logger.warning("{} shrank while it was read; stored zero-padded", path)
            stats.files += 1
            stats.bytes += info.size
        elif stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
            info = tar.gettarinfo(str(path), arcname=arcname)
            _exact_mtime(info, st)
            tar.addfile(info)
        else:
            logger.debug("{}: not a file, folder or symlink; skipped", path)
    except FileNotFoundError:
        logger.debug("{} vanished while the snapshot was written", path)
    except PermissionError as exc:
        stats.skipped.append(f"{path}: {exc.strerror or exc}")


def include_arcname(path: Path) -> str:
    """Where an ``include`` path lands in the archive: ``include/<absolute path>``."""
    return f"{INCLUDE_DIR}/{path.as_posix().lstrip('/')}"


def write_tar(fd: OwnedFd, workspace: Path, include: Sequence[Path], filt: PathFilter) -> TarStats:
    """Stream the archive into ``fd`` (taken and closed here, also on errors). Unreadable files
    are skipped and named in :attr:`TarStats.skipped`; a broken pipe (rclone died) raises."""
    stats = TarStats()
    raw = fd.take()
    if raw is None:
        raise BrokenPipeError("the snapshot pipe was closed before the archive was written")
    with (
        os.fdopen(raw, "wb", buffering=0) as out,
        tarfile.TarFile(
            mode="w", fileobj=cast(IO[bytes], _PipeWriter(out.fileno())), format=tarfile.PAX_FORMAT
        ) as tar,
    ):
        tar.copybufsize = CHUNK  # type: ignore[attr-defined]
        roots = [(workspace, WORKSPACE_DIR)] + [(p, include_arcname(p)) for p in include]
        for given, arc in roots:
            if not given.exists():
                stats.skipped.append(f"{given}: no such file or folder")
                continue
            root = Path(os.path.realpath(given))  # a configured root is followed if a link
            _add(tar, root, arc, stats)
            if root.is_dir():
                for rel in _walk(root, filt, stats):
                    _add(tar, root / rel, f"{arc}/{rel}", stats)
    return stats


def extract_tar(fd: OwnedFd, dest: Path) -> int:
    """Extract the archive read from ``fd`` (taken and closed here) into ``dest``, keeping modes
    and modification times; returns the number of members. Reads the pipe to its end, so that
    rclone never sees a broken pipe after the archive's last block."""
    raw = fd.take()
    if raw is None:
        raise BrokenPipeError("the restore pipe was closed before the archive was read")
    with os.fdopen(raw, "rb", buffering=CHUNK) as src:
        with tarfile.open(fileobj=src, mode="r|", bufsize=CHUNK) as tar:
            if hasattr(tarfile, "tar_filter"):
                tar.extractall(dest, filter="tar")
            else:  # Python without extraction filters
                tar.extractall(dest)  # noqa: S202 (our own archive, written by write_tar)
            count = len(tar.getmembers())
        while src.read(CHUNK):
            pass
    return count
