"""Pure daemon logic: debounce timing, backoff, event classification, incremental guard."""

from __future__ import annotations

import pytest

from watcher.daemon.debounce import INCREMENTAL_LIMIT, Pending, backoff_delay, wait_time
from watcher.daemon.events import WatchRoot, classify, relative
from watcher.engine.incremental import too_many_deletes
from watcher.plan import PathFilter

SYNC = WatchRoot(
    "sync",
    "/ws/shared",
    PathFilter.from_user(["**/.DS_Store", "*.tmp"], ["/_inbox/**", "*.partial"]),
)
OUTBOX = WatchRoot("outbox", "/cloud/share/_outbox", PathFilter(()))


def test_nothing_pending_waits_forever():
    assert wait_time(Pending(), 100.0, 0.5, 10.0) is None


def test_quiet_period_after_last_event():
    p = Pending()
    p.add_path("a", 100.0)
    p.add_path("b", 100.3)
    assert wait_time(p, 100.4, 0.5, 10.0) == pytest.approx(0.4)
    assert wait_time(p, 100.8, 0.5, 10.0) == 0.0


def test_max_delay_caps_continuous_activity():
    p = Pending()
    for i in range(100):  # an event every 0.1 s for 10 s never leaves 0.5 s of quiet
        p.add_path(f"f{i}", 100.0 + i * 0.1)
    assert wait_time(p, 109.9, 0.5, 10.0) == pytest.approx(0.1)
    assert wait_time(p, 110.0, 0.5, 10.0) == 0.0


def test_urgent_runs_at_once():
    p = Pending(full=True, urgent=True)
    p.touch(100.0)
    assert wait_time(p, 100.0, 0.5, 10.0) == 0.0


def test_too_many_paths_become_a_full_cycle():
    p = Pending()
    for i in range(INCREMENTAL_LIMIT + 1):
        p.add_path(f"f{i}", 1.0)
    assert p.full and not p.paths


def test_merge_keeps_work_and_time_span():
    a = Pending(drain=True)
    a.add_path("x", 5.0)
    b = Pending(full=True, urgent=True)
    b.touch(3.0)
    a.merge(b)
    assert a.full and a.drain and a.urgent and not a.paths
    assert (a.first_event, a.last_event) == (3.0, 5.0)


def test_backoff_doubles_and_caps():
    assert [backoff_delay(n, base=2, cap=60) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(0) == 0
    assert backoff_delay(3, base=2, cap=60, jitter=0.25) == pytest.approx(10.0)


def test_relative_paths():
    assert relative("/ws/shared", "/ws/shared/a/b.txt") == "a/b.txt"
    assert relative("/ws/shared", "/ws/shared") == ""
    assert relative("/ws/shared", "/ws/shared-other/x") is None


def test_classify_file_events():
    change = classify(SYNC, "modified", "/ws/shared/a b.txt", "", False)
    assert change is not None and change.paths == ("a b.txt",) and not change.structural
    moved = classify(SYNC, "moved", "/ws/shared/a", "/ws/shared/d/b", False)
    assert moved is not None and moved.paths == ("a", "d/b")


@pytest.mark.parametrize(
    ("event", "src", "dest", "is_dir"),
    [
        ("modified", "/ws/shared/.DS_Store", "", False),  # top-level .DS_Store excluded
        ("created", "/ws/shared/x/y.tmp", "", False),
        ("created", "/ws/shared/_inbox/in.txt", "", False),  # the drain's own writes
        ("opened", "/ws/shared/a", "", False),
        ("closed_no_write", "/ws/shared/a", "", False),
        ("modified", "/ws/shared/dir", "", True),
        ("created", "/ws/shared/newdir", "", True),  # its files come as their own events
        ("created", "/elsewhere/a", "", False),
    ],
)
def test_classify_ignores(event, src, dest, is_dir):
    assert classify(SYNC, event, src, dest, is_dir) is None


def test_partial_renamed_to_final_name_counts_once():
    change = classify(SYNC, "moved", "/ws/shared/a.txt.x1.partial", "/ws/shared/a.txt", False)
    assert change is not None and change.paths == ("a.txt",)


def test_folder_removed_or_moved_out_is_structural():
    gone = classify(SYNC, "deleted", "/ws/shared/dir", "", True)
    assert gone is not None and gone.structural
    out = classify(SYNC, "moved", "/ws/shared/dir", "/tmp/dir", True)
    assert out is not None and out.structural


def test_outbox_removals_are_the_drains_own():
    assert classify(OUTBOX, "deleted", "/cloud/share/_outbox/a", "", False) is None
    new = classify(OUTBOX, "created", "/cloud/share/_outbox/a", "", False)
    assert new is not None and new.paths == ("a",)


@pytest.mark.parametrize(
    ("deletes", "known", "max_delete", "expected"),
    [
        (0, None, 50, False),
        (1, None, 50, True),  # unknown destination: let the full guard decide
        (5, 100, 50, False),
        (51, 100, 50, True),
        (3, 5, 50, False),  # small destination: only "everything" escalates
        (5, 5, 50, True),
        (90, 100, 100, False),  # guard off
    ],
)
def test_incremental_delete_escalation(deletes, known, max_delete, expected):
    assert too_many_deletes(deletes, known, max_delete) is expected
