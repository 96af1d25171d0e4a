"""Closed means done (pure): which batches may run after ``CLOSE_QUIET`` instead of ``debounce``.
A batch qualifies only when every changed path of the sync root was closed after its last write
(watchdog's ``closed`` = inotify's IN_CLOSE_WRITE), seen by a watch that reports closes, and
nothing else is asked for."""

from __future__ import annotations

import pytest

from watcher.daemon.debounce import CLOSE_QUIET, Pending, apply_change, wait_time
from watcher.daemon.events import WatchRoot, classify
from watcher.plan import PathFilter

ROOT = "/ws/shared"
SYNC = WatchRoot("sync", ROOT, PathFilter.from_user([], ["/_inbox/**", "*.partial"]))
OUTBOX = WatchRoot("outbox", "/cloud/share/_outbox", PathFilter.from_user([]))
DEBOUNCE, MAX_DELAY = 60.0, 600.0


def _feed(
    pending: Pending,
    *events: tuple[str, str, str, bool],
    closes: bool = True,
    mode: str = "mailbox",
    root: WatchRoot = SYNC,
) -> None:
    """(type, src, dest, is_dir) events, paths relative to ``root``, through classify, at t=1."""
    for kind, src, dest, is_dir in events:
        full_dest = f"{root.path}/{dest}" if dest else ""
        change = classify(root, kind, f"{root.path}/{src}", full_dest, is_dir)
        if change is not None:
            apply_change(pending, set(), change, mode, 1.0, closes=closes)


def _due_in(pending: Pending) -> float | None:
    return wait_time(pending, 1.0, DEBOUNCE, MAX_DELAY)


def _written(rel: str) -> list[tuple[str, str, str, bool]]:
    """watchdog's events for a file written and closed at once."""
    return [("modified", rel, "", False), ("closed", rel, "", False)]


def test_a_file_written_and_closed_runs_after_the_short_quiet() -> None:
    pending = Pending()
    _feed(pending, ("created", "a.txt", "", False), ("closed", "a.txt", "", False))
    assert pending.all_closed() and pending.paths == {"a.txt"}
    assert _due_in(pending) == pytest.approx(CLOSE_QUIET)


def test_the_short_quiet_never_exceeds_the_debounce() -> None:
    pending = Pending()
    _feed(pending, *_written("a.txt"))
    assert wait_time(pending, 1.0, 0.01, 10.0) == pytest.approx(0.01)


def test_a_file_still_open_holds_back_the_whole_batch() -> None:
    pending = Pending()
    _feed(pending, ("modified", "slow.bin", "", False), *_written("done.txt"))
    assert pending.writing == {"slow.bin"} and not pending.all_closed()
    assert _due_in(pending) == pytest.approx(DEBOUNCE)
    _feed(pending, ("closed", "slow.bin", "", False))
    assert _due_in(pending) == pytest.approx(CLOSE_QUIET)


def test_a_write_after_the_close_means_open_again() -> None:
    pending = Pending()
    _feed(pending, *_written("a.txt"), ("modified", "a.txt", "", False))
    assert not pending.all_closed() and _due_in(pending) == pytest.approx(DEBOUNCE)


def test_a_close_without_its_writes_in_the_batch_still_counts() -> None:
    """The writes went with the previous batch (pushed then); the close means it is done now."""
    pending = Pending()
    _feed(pending, ("closed", "a.txt", "", False))
    assert pending.all_closed()


def test_max_delay_still_bounds_an_open_file() -> None:
    pending = Pending()
    _feed(pending, ("modified", "a.txt", "", False))
    assert wait_time(pending, 1.0, 0.5, 0.2) == pytest.approx(0.2)


def test_deletes_and_renames_of_closed_files_qualify() -> None:
    pending = Pending()
    _feed(
        pending,
        *_written("tmp/x.txt"),
        ("moved", "tmp/x.txt", "x.txt", False),
        ("deleted", "old.txt", "", False),
    )
    assert pending.all_closed() and pending.paths == {"tmp/x.txt", "x.txt", "old.txt"}


def test_a_renamed_open_file_stays_open_under_its_new_name() -> None:
    pending = Pending()
    _feed(pending, ("modified", "a.txt", "", False), ("moved", "a.txt", "b.txt", False))
    assert pending.writing == {"b.txt"} and not pending.all_closed()
    _feed(pending, ("closed", "b.txt", "", False))
    assert pending.all_closed()


def test_a_deleted_open_file_no_longer_holds_the_batch() -> None:
    pending = Pending()
    _feed(pending, ("modified", "a.txt", "", False), ("deleted", "a.txt", "", False))
    assert pending.all_closed()


def test_metadata_only_changes_leave_the_writer_state_alone() -> None:
    pending = Pending()
    _feed(pending, ("modified", "a.txt", "", False), ("attrib", "a.txt", "", False))
    assert not pending.all_closed()
    other = Pending()
    _feed(other, ("attrib", "b.txt", "", False))
    assert other.all_closed()


def test_moving_a_folder_with_an_open_file_keeps_the_debounce() -> None:
    pending = Pending()
    _feed(pending, ("modified", "docs/a.txt", "", False), ("moved", "docs", "papers", True))
    assert not pending.all_closed()
    closed = Pending()
    _feed(closed, *_written("docs/a.txt"), ("moved", "docs", "papers", True))
    assert closed.all_closed()


def test_watches_without_close_events_keep_the_debounce() -> None:
    """macOS FSEvents and polling report no closes: the normal debounce, even for deletes."""
    pending = Pending()
    _feed(pending, *_written("a.txt"), closes=False)
    assert not pending.all_closed()
    deleted = Pending()
    _feed(deleted, ("deleted", "a.txt", "", False), closes=False)
    assert not deleted.all_closed() and _due_in(deleted) == pytest.approx(DEBOUNCE)


def test_other_roots_steps_and_lost_events_keep_the_debounce() -> None:
    drained = Pending()
    _feed(drained, *_written("in.txt"), root=OUTBOX)
    _feed(drained, *_written("a.txt"))
    assert drained.drain and not drained.all_closed()
    lost = Pending()
    _feed(lost, *_written("a.txt"))
    apply_change(lost, set(), None, "mailbox", 1.0, closes=True)
    assert not lost.all_closed()
    removed = Pending()
    _feed(removed, *_written("a.txt"), ("deleted", "docs", "", True))
    assert removed.full and not removed.all_closed()


def test_bisync_sync_root_changes_qualify() -> None:
    pending = Pending()
    _feed(pending, *_written("a.txt"), mode="bisync")
    assert pending.bisync and pending.all_closed()


def test_merge_keeps_open_files_and_refusals() -> None:
    pending = Pending()
    _feed(pending, *_written("a.txt"))
    other = Pending()
    _feed(other, ("modified", "b.txt", "", False))
    pending.merge(other)
    assert pending.writing == {"b.txt"} and not pending.all_closed()
    refused = Pending()
    _feed(refused, *_written("c.txt"), closes=False)
    fresh = Pending()
    _feed(fresh, *_written("d.txt"))
    fresh.merge(refused)
    assert not fresh.all_closed()


def test_a_retry_is_never_the_closed_file_path() -> None:
    pending = Pending()
    _feed(pending, *_written("a.txt"))
    again = pending.retry()
    assert again.full and not again.all_closed()
    again.writing.add("x")
    assert "x" not in pending.writing


def test_an_atomic_save_through_an_excluded_temp_name_qualifies() -> None:
    """Write ``a.txt.partial`` (excluded: its events never count), close it, rename it over
    ``a.txt``: the rename is the only change, and it is done."""
    pending = Pending()
    _feed(pending, *_written("a.txt.partial"), ("moved", "a.txt.partial", "a.txt", False))
    assert pending.paths == {"a.txt"} and pending.all_closed()


def test_a_file_moved_in_from_outside_waits_for_the_debounce() -> None:
    """watchdog reports a file moved in from an unwatched folder as created, with no close."""
    pending = Pending()
    _feed(pending, ("created", "in.txt", "", False))
    assert not pending.all_closed() and _due_in(pending) == pytest.approx(DEBOUNCE)
