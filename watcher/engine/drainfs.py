"""Local file work of the mailbox drain: its staging folder and making landed files durable."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from watcher.errors import SyncFailed
from watcher.fsutil import fsync_files, fsync_folders
from watcher.plan import CLAIMS
from watcher.rclone.encoding import local_name


class Staging:
    """The folder inside ``_inbox`` that rclone copies claimed files into before they get
    their names. It belongs to the drain: links in it are removed, never followed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        """Make sure the staging folder is a real folder holding no symlinks and no
        ``*.partial`` leftovers (rclone would follow a planted link when copying into it)."""
        try:
            st = os.lstat(self.root)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode):
            self.root.unlink()  # the link only, never its target
            return
        if not stat.S_ISDIR(st.st_mode):
            raise SyncFailed(
                f"drain: {self.root} is in the way of the drain's staging folder; move it away "
                "(nothing was changed)"
            )
        for folder, dirs, files in os.walk(self.root):
            for name in dirs + files:
                path = Path(folder, name)
                if path.is_symlink() or name.endswith(".partial"):
                    path.unlink(missing_ok=True)

    def clean(self, keep: set[str]) -> None:
        """Remove every staged copy of a claimed file (under ``<staging>/<CLAIMS>/``) but
        ``keep`` (paths relative to the staging folder: files still claimed), then the
        folder once it holds no file. Anything else in the folder is left alone."""
        claims = self.root / CLAIMS
        if not self.root.is_dir() or self.root.is_symlink() or claims.is_symlink():
            return
        for folder, _dirs, files in os.walk(claims, topdown=False):
            for name in files:
                path = Path(folder, name)
                if path.relative_to(self.root).as_posix() not in keep:
                    path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                Path(folder).rmdir()  # only when empty
        if not any(self.root.iterdir()):
            shutil.rmtree(self.root, ignore_errors=True)


def make_durable(inbox: Path, targets: list[str]) -> None:
    """fsync the files that landed in this drain, then once each the folders they were linked
    into and those created for them (up to the sync root), before the journal calls them
    landed and the remote copies are deleted."""
    if not targets:
        return
    folders: set[Path] = {inbox.parent}
    for target in targets:
        parts = Path(target).parts[:-1]
        folders.update(inbox.joinpath(*parts[:k]) for k in range(len(parts) + 1))
    fsync_files(inbox / t for t in targets)
    fsync_folders(folders)


def claim_unreachable(outbox: Path, rel: str, claim: str) -> bool:
    """On a local remote, move the file rclone shows as ``rel`` (a name that is not valid
    UTF-8, shown with U+FFFD) to ``claim`` (the same name with U+FFFD, now valid UTF-8),
    never replacing a file. True when moved."""
    folder, _, shown = rel.rpartition("/")
    with contextlib.suppress(OSError):
        for path in (outbox / local_name(folder)).iterdir():
            if os.fsencode(path.name).decode("utf-8", "replace") != local_name(shown):
                continue
            dest = outbox / local_name(claim)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(dest):
                return False
            path.rename(dest)
            return True
    return False
