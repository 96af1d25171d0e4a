"""Crash-safe writes: ``atomic_write`` flushes the new file before it takes the name and the
folder after, and a failed write (a full disk) keeps the old file and leaves no temp file."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from watcher.errors import SyncFailed
from watcher.fsutil import WriteFailed, atomic_write, fsync_files, fsync_folders


def _recorder(target: Path, log: list[tuple[str, str]]) -> Callable[[int], None]:
    """An ``os.fsync`` that notes what it flushed (``file``/``folder``) and what ``target``
    held at that moment, then calls the real one."""
    real = os.fsync

    def fsync(fd: int) -> None:
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        log.append((kind, target.read_text() if target.exists() else "<missing>"))
        real(fd)

    return fsync


@pytest.mark.timeout(10)
def test_atomic_write_fsyncs_file_before_rename_and_folder_after(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    target.write_text("old")
    log: list[tuple[str, str]] = []
    monkeypatch.setattr(os, "fsync", _recorder(target, log))
    atomic_write(target, "new")
    assert log == [("file", "old"), ("folder", "new")]
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.timeout(10)
def test_failed_write_keeps_old_file_and_is_one_line(tmp_path, monkeypatch):
    """ENOSPC while flushing: the old content stays, no temp file, a one-line failed run."""
    target = tmp_path / "state" / "state.json"
    target.parent.mkdir()
    target.write_text("old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteFailed) as caught:
        atomic_write(target, "new" * 1000)
    assert target.read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]
    assert isinstance(caught.value, SyncFailed) and isinstance(caught.value, OSError)
    assert caught.value.errno == errno.ENOSPC
    assert str(caught.value) == f"cannot write {target}: No space left on device"


@pytest.mark.timeout(10)
def test_fsync_many_files_and_folders(tmp_path):
    files = [tmp_path / f"d{i % 3}" / f"f{i}.txt" for i in range(40)]
    for path in files:
        path.parent.mkdir(exist_ok=True)
        path.write_text(path.name)
    assert fsync_files(files) == 40
    assert fsync_folders(p.parent for p in files) == 3
    with pytest.raises(FileNotFoundError):
        fsync_files([*files, tmp_path / "missing.txt"])
