"""Turn watchdog events into changes relative to a watched root (pure)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from watcher.plan import PathFilter

RootKind = Literal["sync", "ingest", "outbox", "remote"]

#: Event types that say nothing about content.
IGNORED_TYPES = frozenset({"opened", "closed_no_write"})


@dataclass(frozen=True)
class WatchRoot:
    """A folder observed recursively: ``kind`` says what its changes ask for."""

    kind: RootKind
    path: str
    filter: PathFilter


@dataclass(frozen=True)
class Change:
    """What one event changed below a root: file paths (relative, POSIX), or a folder."""

    root: WatchRoot
    paths: tuple[str, ...] = ()
    structural: bool = False
    removal: bool = False


def relative(root: str, path: str) -> str | None:
    """``path`` relative to ``root`` as POSIX, ``""`` for the root itself, ``None`` outside."""
    root = root.rstrip(os.sep) or os.sep
    if path == root:
        return ""
    prefix = root if root.endswith(os.sep) else root + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :].replace(os.sep, "/")


def classify(root: WatchRoot, event_type: str, src: str, dest: str, is_dir: bool) -> Change | None:
    """The change a watchdog event (``event_type``, ``src``, ``dest`` for moves) makes below
    ``root``; ``None`` when it does not matter (outside, excluded, metadata-only, or a removal
    in an outbox, which is the drain's own doing)."""
    if event_type in IGNORED_TYPES or (is_dir and event_type in ("modified", "closed")):
        return None
    sides = [src, dest] if event_type == "moved" else [src]
    rels = [rel for rel in (relative(root.path, p) for p in sides if p) if rel]
    kept = tuple(rel for rel in rels if not root.filter.excluded(rel, is_dir=is_dir))
    if not kept:
        return None
    removal = event_type == "deleted" or (
        event_type == "moved" and relative(root.path, dest) in (None, "")
    )
    if root.kind == "outbox" and removal:
        return None
    if is_dir and not removal:
        # A folder created or moved inside the root: watchdog reports every file in it as
        # created or moved too, so the folder event itself asks for nothing.
        return None
    return Change(root, paths=() if is_dir else kept, structural=is_dir, removal=removal)
