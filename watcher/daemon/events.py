"""Turn watchdog events into changes relative to a watched root (pure)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from watcher.plan import PathFilter
from watcher.plan.moves import Move

RootKind = Literal["sync", "ingest", "outbox", "remote"]

#: Event types that say nothing about content.
IGNORED_TYPES = frozenset({"opened", "closed_no_write"})

Writer = Literal["open", "closed", "replaced"]
"""What an event says about a writer of its paths: ``open`` (created or modified: a writer may
still hold the file open), ``closed`` (inotify's IN_CLOSE_WRITE: a writer closed it after
writing), ``replaced`` (deleted or renamed: whatever was written there is gone or moved);
``None`` (metadata only) says nothing."""
_WRITERS: dict[str, Writer] = {
    "created": "open",
    "modified": "open",
    "closed": "closed",
    "deleted": "replaced",
    "moved": "replaced",
}


@dataclass(frozen=True)
class WatchRoot:
    """A folder observed recursively: ``kind`` says what its changes ask for."""

    kind: RootKind
    path: str
    filter: PathFilter


@dataclass(frozen=True)
class Change:
    """What one event changed below a root: file paths (relative, POSIX), or a folder
    (``structural``: deleted or moved out; ``paths`` names it).

    ``move`` is a rename inside the sync root whose two sides are both synced: for a folder
    it is the whole change (no paths); for a file it comes with both paths, so that a file
    moved along with its folder can be told apart (:meth:`MoveLog.covers`). ``writer`` is
    what the event says about a writer of the paths (:data:`Writer`)."""

    root: WatchRoot
    paths: tuple[str, ...] = ()
    structural: bool = False
    removal: bool = False
    move: Move | None = None
    writer: Writer | None = None


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
    move = _move(root, event_type, rels, kept)
    if is_dir and not removal:
        # A folder created or moved inside the root: watchdog reports every file in it as
        # created or moved too, so the folder event itself asks only for the folder's move.
        return None if move is None else Change(root, move=move)
    writer = _WRITERS.get(event_type)
    return Change(root, kept, structural=is_dir, removal=removal, move=move, writer=writer)


def _move(root: WatchRoot, event_type: str, rels: list[str], kept: tuple[str, ...]) -> Move | None:
    """The rename an event is, when both of its sides are inside the sync root and synced."""
    if event_type != "moved" or root.kind != "sync" or len(rels) != 2 or len(kept) != 2:
        return None
    return Move(kept[0], kept[1])
