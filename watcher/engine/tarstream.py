"""Tar streams of the workspace, written into and read from a pipe (blocking; run in a thread).

The archive holds ``workspace/…`` (the workspace, user excludes applied, symlinks stored as
links, never followed) and ``include/<absolute path>/…`` for each extra ``include`` path. It is
written in PAX format straight into a file descriptor (the write end of the pipe whose read end is
``rclone rcat``'s stdin): no copy of the data ever lands on disk. On Linux, file contents move
from the page cache into the pipe with ``sendfile`` (no copy through Python). Modification times
go into the PAX header with nanosecond precision, so both Python and GNU tar restore them exactly.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import sys
import tarfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from loguru import logger

from watcher.plan.filters import PathFilter

#: Top folder of the workspace inside a snapshot.
WORKSPACE_DIR = "workspace"
#: Top folder of the extra ``include`` paths (each under its absolute path).
INCLUDE_DIR = "include"
#: Size of the tar stream's writes and of file reads.
CHUNK = 1 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
#: ``sendfile`` into a pipe works on Linux; elsewhere (macOS: sockets only) contents are copied.
_SENDFILE = sys.platform.startswith("linux") and hasattr(os, "sendfile")
#: Errors that mean "this pair of descriptors cannot sendfile", not "the copy failed".
_NO_SENDFILE = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP})


@dataclass
class TarStats:
    """What a tar stream holds; ``skipped`` names what could not be read (with the reason)."""

    files: int = 0
    #: Bytes of file contents stored.
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)
    #: Length of the whole tar stream (what the snapshot object holds), known at the end.
    stream: int = 0


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

    def send_exact(self, src: int, size: int) -> bool:
        """Append exactly ``size`` bytes of the file ``src`` (from its start): by ``sendfile``
        where possible, else read and written through a buffer; zero-padded when the file
        shrank meanwhile (then True), cut at ``size`` when it grew."""
        done = self._sendfile(src, size) if _SENDFILE else 0
        while done < size:
            data = os.pread(src, min(CHUNK, size - done), done)
            if not data:
                break
            self.write(data)
            done += len(data)
        short = done < size
        while done < size:
            pad = min(CHUNK, size - done)
            self.write(bytes(pad))
            done += pad
        return short

    def _sendfile(self, src: int, size: int) -> int:
        """Bytes moved by ``sendfile`` before the file ended or sendfile refused (then the
        caller goes on with plain reads from that offset)."""
        done = 0
        while done < size:
            try:
                sent = os.sendfile(self.fd, src, done, min(size - done, 8 * CHUNK))
            except OSError as exc:
                if exc.errno in _NO_SENDFILE:
                    break
                raise
            if sent == 0:
                break
            done += sent
            self.pos += sent
        return done


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


def _append_file(tar: tarfile.TarFile, out: _PipeWriter, info: tarfile.TarInfo, src: int) -> bool:
    """What ``tar.addfile(info, file)`` does (header, exactly ``info.size`` bytes, padding to a
    block), with the contents moved by :meth:`_PipeWriter.send_exact`; True when the file
    shrank while it was read (stored zero-padded)."""
    header = info.tobuf(tar.format, tar.encoding, tar.errors)
    out.write(header)
    short = out.send_exact(src, info.size)
    blocks, remainder = divmod(info.size, tarfile.BLOCKSIZE)
    if remainder:
        out.write(bytes(tarfile.BLOCKSIZE - remainder))
        blocks += 1
    tar.offset += len(header) + blocks * tarfile.BLOCKSIZE
    return short


def _add(tar: tarfile.TarFile, out: _PipeWriter, path: Path, arcname: str, stats: TarStats) -> None:
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
                if _append_file(tar, out, info, fh.fileno()):
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
    with os.fdopen(raw, "wb", buffering=0) as out:
        writer = _PipeWriter(out.fileno())
        with tarfile.TarFile(
            mode="w", fileobj=cast(IO[bytes], writer), format=tarfile.PAX_FORMAT
        ) as tar:
            roots = [(workspace, WORKSPACE_DIR)] + [(p, include_arcname(p)) for p in include]
            for given, arc in roots:
                if not given.exists():
                    stats.skipped.append(f"{given}: no such file or folder")
                    continue
                root = Path(os.path.realpath(given))  # a configured root is followed if a link
                _add(tar, writer, root, arc, stats)
                if root.is_dir():
                    for rel in _walk(root, filt, stats):
                        _add(tar, writer, root / rel, f"{arc}/{rel}", stats)
        stats.stream = writer.pos
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
