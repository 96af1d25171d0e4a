"""Folder moves that stop being renames before the run (pure, row 15-5k): the moved folder
deleted or moved out of the sync root drops its move; a subfolder of it removed does not."""

from __future__ import annotations

from watcher.daemon.debounce import Pending, apply_change
from watcher.daemon.events import WatchRoot, classify
from watcher.plan import PathFilter
from watcher.plan.moves import Move

ROOT = "/ws/shared"
SYNC = WatchRoot("sync", ROOT, PathFilter.from_user([], ["/_inbox/**"]))


def _feed(pending: Pending, kind: str, src: str, dest: str = "", is_dir: bool = True) -> None:
    full_dest = dest if dest.startswith("/") or not dest else f"{ROOT}/{dest}"
    change = classify(SYNC, kind, f"{ROOT}/{src}", full_dest, is_dir)
    if change is not None:
        apply_change(pending, set(), change, "mailbox", 1.0)


def test_moved_folder_moved_out_or_deleted_is_no_rename() -> None:
    for kind, dest in (("deleted", ""), ("moved", "/elsewhere/papers")):
        pending = Pending()
        _feed(pending, "moved", "docs", "papers")
        _feed(pending, "moved", "x", "papers/x")
        _feed(pending, kind, "papers", dest)
        assert pending.full and pending.moves.moves == [], kind


def test_a_subfolder_of_the_destination_removed_keeps_the_move() -> None:
    pending = Pending()
    _feed(pending, "moved", "docs", "papers")
    _feed(pending, "deleted", "papers/sub")
    _feed(pending, "deleted", "other")
    assert pending.full and pending.moves.moves == [Move("docs", "papers")]
