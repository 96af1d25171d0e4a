"""File helpers of the oracle's world and executor."""

from __future__ import annotations

import contextlib
import errno
import os
import time
from pathlib import Path
from typing import Any

from watcher.config.load import tomllib  # type: ignore[attr-defined]


def write_slowly(path: Path, chunks: list[bytes], pause: float) -> None:
    """Write ``path`` chunk by chunk, ``pause`` seconds after each (a slow writer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
            fh.flush()
            time.sleep(pause)


def merge_into(src: Path, dst: Path) -> None:
    """Move every file of ``src`` into ``dst`` (what a user does putting a folder back over a
    new one): a name taken there gets a ``.restoredN`` suffix; then ``src``'s emptied folders
    are removed. A daemon may be writing into ``src`` meanwhile (a mirror pull, a drain): a
    file gone before its move is skipped, one arriving after the walk stays (nothing deleted)."""
    for folder, _dirs, files in os.walk(src):
        for name in files:
            rel = Path(folder, name).relative_to(src)
            target, n = dst / rel, 0
            while target.exists():
                n += 1
                target = dst / rel.with_name(f"{rel.name}.restored{n}")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError:  # a file of the restored folder stands where this one's folder is
                target = dst / ".restored" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.rename(Path(folder, name), target)
    for folder, _dirs, _files in os.walk(src, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def put_back(away: Path, root: Path, timeout: float = 30.0) -> None:
    """Move the folder ``away`` back to ``root`` (same inode). When a daemon made a new
    ``root`` meanwhile, its files are merged into ``away`` first (:func:`merge_into`), again
    until the rename lands: a daemon still writing there adds files between the two."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rename(away, root)  # lands when root is absent or an empty folder
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or time.monotonic() > deadline:
                raise
        merge_into(root, away)


def load_toml(text: str) -> dict[str, Any]:
    """``text`` parsed as TOML (tomllib, or tomli before Python 3.11)."""
    return dict(tomllib.loads(text))
