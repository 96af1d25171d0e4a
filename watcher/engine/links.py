"""Symlink safety when ``copy_symlinks = true``: rclone then follows every link, so a link that
loops back into the tree or escapes to ``/`` would make it upload without end or upload the
whole machine. Such links are found before any run."""

from __future__ import annotations

import errno
import os
from pathlib import Path

#: Folders visited at most while following links, so a pathological tree cannot stall a run.
MAX_DIRS = 200_000


def dangerous_links(root: Path, max_dirs: int = MAX_DIRS) -> list[str]:
    """Links under ``root``, followed as rclone ``--copy-links`` does, that point at ``/``, at a
    folder containing the link itself (a loop, ``root`` included), or at themselves. Each entry
    names the link (relative to ``root``) and its target."""
    problems: list[str] = []
    try:
        real_root = root.resolve(strict=True)
    except OSError:
        return problems
    seen = {real_root}
    stack = [(root, real_root)]
    while stack and len(seen) <= max_dirs:
        folder, real_folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            rel = path.relative_to(root).as_posix()
            if not entry.is_symlink():
                if entry.is_dir(follow_symlinks=False):
                    stack.append((path, real_folder / entry.name))
                continue
            try:
                target = path.resolve(strict=True)
            except RuntimeError:  # Python < 3.13 reports a link loop so
                problems.append(f"{rel} -> {path.readlink()} (a link loop)")
                continue
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    problems.append(f"{rel} -> {path.readlink()} (a link loop)")
                continue  # a broken link: rclone reports it, nothing is followed
            if not target.is_dir():
                continue
            if target == Path(target.anchor):
                problems.append(f"{rel} -> {target} (the whole file system)")
            elif real_folder.is_relative_to(target):
                problems.append(f"{rel} -> {target} (a folder that contains the link: a loop)")
            elif target not in seen:
                seen.add(target)
                stack.append((path, target))
    return problems
