"""Folder renames in pending work (pure): classification of moved-folder events, order and
composition of moves (chains, later events under the moved folder), coverage of the per-file
moves watchdog reports, what survives a retry and lost events; the scoped filter and the
bisync delete budget."""

from __future__ import annotations

import os

import pytest

from watcher.daemon.debounce import Pending, apply_change
from watcher.daemon.events import WatchRoot, classify
from watcher.engine.bisync_moves import delete_budget, moved_in_listing
from watcher.engine.moves import MoveDone, MovesOutcome, local_problem
from watcher.plan import PathFilter
from watcher.plan.filters import glob_escape
from watcher.plan.moves import Move, MoveLog, ScopedFilter

ROOT = "/ws/shared"
SYNC = WatchRoot("sync", ROOT, PathFilter.from_user(["cache/**"], ["/_inbox/**", "*.partial"]))


def _events(pending: Pending, *events: tuple[str, str, str, bool], mode: str = "mailbox") -> None:
    """Feed (type, src, dest, is_dir) events, paths relative to ROOT, through classify."""
    for kind, src, dest, is_dir in events:
        full_dest = f"{ROOT}/{dest}" if dest else ""
        change = classify(SYNC, kind, f"{ROOT}/{src}", full_dest, is_dir)
        if change is not None:
            apply_change(pending, set(), change, mode, 1.0)


def _folder_move(src: str, dst: str, *files: str) -> list[tuple[str, str, str, bool]]:
    """watchdog's events for ``mv src dst``: the folder, then each file below it."""
    return [("moved", src, dst, True)] + [
        ("moved", f"{src}/{f}", f"{dst}/{f}", False) for f in files
    ]


def test_folder_rename_is_one_move_and_its_files_are_covered():
    pending = Pending()
    _events(pending, *_folder_move("docs", "papers", "a.txt", "sub/b.txt"))
    _events(pending, ("moved", "docs/sub", "papers/sub", True))  # the subfolder, moved along
    assert pending.moves.moves == [Move("docs", "papers")]
    assert pending.paths == set()
    assert pending and pending.last_event == 1.0


def test_a_single_file_rename_stays_two_paths():
    pending = Pending()
    _events(pending, ("moved", "a.txt", "b.txt", False))
    assert pending.paths == {"a.txt", "b.txt"} and not pending.moves


def test_chain_composes_and_a_rename_back_cancels():
    pending = Pending()
    _events(pending, *_folder_move("a", "b", "f"), *_folder_move("b", "c", "f"))
    assert pending.moves.moves == [Move("a", "c")] and pending.paths == set()
    _events(pending, *_folder_move("c", "a", "f"))
    assert pending.moves.moves == [] and pending.paths == set()


def test_moving_the_parent_of_a_destination_rewrites_it():
    log = MoveLog()
    paths = {"d/keep.txt", "other.txt"}
    log.add(Move("x", "d/b"), paths)
    log.add(Move("d", "e"), paths)
    assert log.moves == [Move("x", "e/b"), Move("d", "e")]
    assert paths == {"e/keep.txt", "other.txt"}


def test_edits_before_and_after_a_move_compose():
    pending = Pending()
    _events(
        pending,
        ("modified", "docs/a.txt", "", False),  # before: rebased under the new name
        *_folder_move("docs", "papers", "a.txt"),
        ("modified", "papers/a.txt", "", False),  # after: already the new name
        ("created", "docs/new.txt", "", False),  # docs recreated: a path of its own
    )
    assert pending.moves.moves == [Move("docs", "papers")]
    assert pending.paths == {"papers/a.txt", "docs/new.txt"}


def test_subfolder_moved_after_its_parent_stays_in_order():
    pending = Pending()
    _events(pending, *_folder_move("a", "b", "s/f"), *_folder_move("b/s", "t", "f"))
    assert pending.moves.moves == [Move("a", "b"), Move("b/s", "t")]
    assert pending.paths == set()


@pytest.mark.parametrize(
    ("src", "dest"),
    [("docs", "cache/docs"), ("cache/docs", "docs"), ("_inbox/x", "x"), ("docs", "../out/docs")],
)
def test_moves_into_or_out_of_excluded_or_outside_are_not_moves(src, dest):
    pending = Pending()
    full_dest = f"{ROOT}/{dest}" if not dest.startswith("..") else "/ws/out/docs"
    change = classify(SYNC, "moved", f"{ROOT}/{src}", full_dest, True)
    if change is not None:
        apply_change(pending, set(), change, "mailbox", 1.0)
    assert not pending.moves


def test_mirror_mode_ignores_folder_moves_and_bisync_asks_for_a_run():
    mirror, bisync = Pending(), Pending()
    _events(mirror, ("moved", "docs", "papers", True), mode="mirror")
    _events(bisync, *_folder_move("docs", "papers", "a"), mode="bisync")
    assert not mirror
    assert bisync.bisync and bisync.moves.moves == [Move("docs", "papers")]
    assert bisync.paths == set()


def test_retry_keeps_moves_in_front_and_lost_events_drop_them():
    failed = Pending()
    _events(failed, *_folder_move("a", "b", "f"))
    later = Pending()
    _events(later, *_folder_move("c", "d", "f"))
    later.merge(failed.retry())
    assert later.moves.moves == [Move("a", "b"), Move("c", "d")]
    assert later.full and later.urgent
    apply_change(later, set(), None, "mailbox", 2.0)
    assert not later.moves and later.full


def test_scoped_filter_limits_to_the_folder_and_keeps_the_excludes():
    scoped = ScopedFilter(SYNC.filter.patterns, scope="my [docs]")
    assert scoped.excluded("other.txt")
    assert not scoped.excluded("my [docs]/a.txt")
    assert scoped.excluded("my [docs]/x.partial")
    assert not scoped.excluded("my [docs]", is_dir=True)
    args = scoped.rclone_args()
    assert args[-4:] == ["--filter", "+ /my \\[docs\\]/**", "--filter", "- **"]
    assert "- *.partial" in args
    assert glob_escape("a*b?{c}\\") == "a\\*b\\?\\{c\\}\\\\"


@pytest.mark.parametrize(
    ("moved", "listed", "flags"),
    [(0, 22, []), (20, 22, ["--max-delete", "140"]), (22, 22, ["--force"]), (5, 0, [])],
)
def test_bisync_delete_budget_grows_by_the_moved_count(moved, listed, flags):
    assert delete_budget(moved, listed) == flags


def test_bisync_budget_counts_the_listing_under_the_moved_sources():
    """Also when the remote move was done by an earlier, failed run (nothing left to move)."""
    outcome = MovesOutcome((MoveDone(Move("docs", "papers"), 0), MoveDone(Move("a b", "c"), 3)))
    listing = ["docs/1", "docs/sub/2", "docsx/3", "a b/4", "top"]
    assert moved_in_listing(listing, outcome) == 3


def test_a_move_is_checked_against_the_disk_when_it_runs(tmp_path):
    (tmp_path / "new").mkdir()
    (tmp_path / "file").write_text("x")
    assert local_problem(tmp_path, Move("old", "new")) is None
    assert "exists again" in (local_problem(tmp_path, Move("new", "new2")) or "")
    assert "no longer a folder" in (local_problem(tmp_path, Move("old", "file")) or "")
    assert "gone" in (local_problem(tmp_path, Move("old", "missing")) or "")
    bad = os.fsdecode(b"bad\xfe")
    (tmp_path / bad).mkdir()
    for odd in (bad, "line\nbreak"):
        assert "cannot carry" in (local_problem(tmp_path, Move("old", odd)) or "")


def test_polling_order_files_before_their_folder_ends_as_one_move():
    """watchdog's polling observer reports the moved files first, then their folder: the
    files' paths are rebased under the new name, where the folder's sync covers them."""
    pending = Pending()
    files = [("moved", f"docs/{f}", f"papers/{f}", False) for f in ("a", "s/b")]
    _events(
        pending, *files, ("moved", "docs/s", "papers/s", True), ("moved", "docs", "papers", True)
    )
    assert pending.moves.moves == [Move("docs", "papers")]
    assert pending.paths == {"papers/a", "papers/s/b"}
