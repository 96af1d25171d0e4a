"""Unit tests for ``watcher.engine.guard.check_one_way``: the pre-delete safety decision."""

from __future__ import annotations

import pytest

from watcher.engine.guard import MIN_FILES_FOR_PERCENT, GuardVerdict, check_one_way
from watcher.rclone import Entry


def files(*names: str) -> list[Entry]:
    return [Entry(name, 1, 0.0) for name in names]


def numbered(n: int, prefix: str = "f") -> list[Entry]:
    return files(*(f"{prefix}{i}.txt" for i in range(n)))


def check(src: list[Entry] | None, dst: list[Entry] | None, max_delete: int = 50) -> GuardVerdict:
    return check_one_way("SRC", "DST", src, dst, max_delete)


def test_missing_source_over_non_empty_destination_is_refused():
    verdict = check(None, files("a", "b"))
    assert verdict.refuse is not None
    assert "SRC" in verdict.refuse and "DST" in verdict.refuse
    assert "does not exist" in verdict.refuse and "2 files" in verdict.refuse
    assert not verdict.skip


@pytest.mark.parametrize("dst", [None, []])
def test_missing_source_over_empty_or_missing_destination_is_skipped(dst):
    verdict = check(None, dst)
    assert verdict.refuse is None
    assert verdict.skip is True


def test_empty_source_over_non_empty_destination_is_refused():
    verdict = check([], files("a"))
    assert verdict.refuse is not None
    assert "holds no files" in verdict.refuse and "SRC" in verdict.refuse
    assert verdict.deletes == 1


def test_empty_source_refused_even_with_max_delete_100():
    assert check([], numbered(20), max_delete=100).refuse is not None
    assert check(None, numbered(20), max_delete=100).refuse is not None


@pytest.mark.parametrize("dst", [None, []])
def test_empty_source_over_empty_destination_runs(dst):
    verdict = check([], dst)
    assert verdict == GuardVerdict(refuse=None, skip=False, deletes=0)


def test_fresh_destination_runs():
    verdict = check(numbered(50), None)
    assert verdict.refuse is None and not verdict.skip and verdict.deletes == 0


def test_counts_deletes():
    verdict = check(files("a", "b", "c"), files("a", "x", "y"))
    assert verdict.refuse is None
    assert verdict.deletes == 2


def test_more_than_max_delete_percent_is_refused():
    dst = numbered(10)
    src = dst[:4]  # 6 of 10 deleted = 60 % > 50 %
    verdict = check(src, dst, max_delete=50)
    assert verdict.refuse is not None
    assert "6 of 10" in verdict.refuse and "60 %" in verdict.refuse
    assert "max_delete = 50" in verdict.refuse
    assert verdict.deletes == 6


def test_exactly_max_delete_percent_is_allowed():
    dst = numbered(10)
    verdict = check(dst[:5], dst, max_delete=50)  # 50 % is not more than 50 %
    assert verdict.refuse is None and verdict.deletes == 5


def test_just_over_the_limit_is_refused():
    dst = numbered(1000)
    assert check(dst[:499], dst, max_delete=50).refuse is not None  # 50.1 %
    assert check(dst[:500], dst, max_delete=50).refuse is None


def test_small_destinations_are_exempt_from_the_percentage():
    assert MIN_FILES_FOR_PERCENT == 10
    dst = numbered(9)
    verdict = check(dst[:1], dst, max_delete=10)  # 8 of 9 deleted
    assert verdict.refuse is None
    assert verdict.deletes == 8


def test_max_delete_100_turns_the_percentage_off():
    dst = numbered(100)
    verdict = check(files("other"), dst, max_delete=100)
    assert verdict.refuse is None
    assert verdict.deletes == 100


def test_max_delete_0_refuses_any_delete_in_large_destinations():
    dst = numbered(10)
    assert check(dst[1:], dst, max_delete=0).refuse is not None
    assert check(dst, dst, max_delete=0).refuse is None


def test_additions_do_not_count_as_deletes():
    dst = numbered(10)
    src = dst + numbered(100, "new")
    verdict = check(src, dst, max_delete=0)
    assert verdict.refuse is None and verdict.deletes == 0


def test_paths_are_compared_exactly():
    dst = numbered(10, "a/")
    src = numbered(10, "b/")
    verdict = check(src, dst)
    assert verdict.deletes == 10 and verdict.refuse is not None


def test_refusal_is_one_line():
    for verdict in (check(None, numbered(3)), check([], numbered(3)), check([], numbered(30))):
        assert verdict.refuse is not None and "\n" not in verdict.refuse
