"""Changed paths a full cycle takes over are carried with it (row 15-3i): on a backend whose
full syncs compare sizes (or 1 s modtimes) only, the daemon pushes them as listed paths after
the full cycle, so a same-size edit whose push failed once is not lost."""

from __future__ import annotations

from watcher.daemon.debounce import INCREMENTAL_LIMIT, Pending


def test_a_failed_push_is_retried_full_and_carries_its_paths() -> None:
    work = Pending()
    work.add_path("a.txt", 1.0)
    retry = work.retry()
    assert retry.full and not retry.paths and retry.carry == {"a.txt"}
    again = retry.retry()  # failed again: still carried
    assert again.full and again.carry == {"a.txt"}


def test_paths_changed_while_a_full_cycle_is_pending_are_carried() -> None:
    pending = Pending(full=True)
    pending.add_path("b.txt", 2.0)
    assert pending.carry == {"b.txt"} and not pending.paths
    waiting = Pending()
    waiting.add_path("c.txt", 3.0)
    waiting.merge(pending)
    assert waiting.full and not waiting.paths and waiting.carry == {"b.txt", "c.txt"}


def test_carry_is_bounded() -> None:
    pending = Pending(full=True)
    for i in range(INCREMENTAL_LIMIT + 10):
        pending.add_path(f"f{i}", 1.0)
    assert len(pending.carry) == INCREMENTAL_LIMIT
