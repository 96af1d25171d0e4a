"""File helpers of the oracle's world and executor."""

from __future__ import annotations

import os
import shutil
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
    new one): a name taken there gets a ``.restoredN`` suffix; then ``src`` is removed."""
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
            os.rename(Path(folder, name), target)
    shutil.rmtree(src)


def load_toml(text: str) -> dict[str, Any]:
    """``text`` parsed as TOML (tomllib, or tomli before Python 3.11)."""
    return dict(tomllib.loads(text))
