"""Type changes between two listings (pure): a path that is a file on one side and a folder on
the other.

``rclone sync`` copies before it deletes, so on a backend with real folders (local, SFTP,
WebDAV …) a file replaced by a folder of the same name fails with "mkdir …: not a directory"
(and the reverse with "is a directory") on every run, and rclone then holds back every delete.
The destination's side of such a path is what ``sync`` would delete anyway (it is not in the
source), so deleting it first turns the type change into delete + create.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TypeChanges:
    """What to remove at the destination before a sync: ``files`` (relative paths), then the
    ``folders`` (with the empty folders below them) that the source has as files."""

    files: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.files or self.folders)


def folders_of(files: Iterable[str]) -> set[str]:
    """Every folder that holds one of ``files`` (relative POSIX paths), at any depth."""
    found: set[str] = set()
    for path in files:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            found.add("/".join(parts[:depth]))
    return found


def type_changes(src_files: Iterable[str], dst_files: Iterable[str]) -> TypeChanges:
    """The destination files and folders in the way of the source's: a destination file where
    the source has a folder, and the destination's folder (with the files in it) where the
    source has a file."""
    src, dst = set(src_files), set(dst_files)
    src_folders, dst_folders = folders_of(src), folders_of(dst)
    files = {path for path in dst if path in src_folders}
    folders = {path for path in src if path in dst_folders}
    for folder in folders:
        files.update(path for path in dst if path.startswith(folder + "/"))
    return TypeChanges(tuple(sorted(files)), tuple(sorted(folders)))
