"""Unit tests for ``watcher.engine.empty_baseline``: what a bisync run after a baseline of two
empty trees does (pure), and which listing files count as empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher.engine.empty_baseline import (
    EmptyBaselinePlan,
    listing_is_empty,
    listings_empty,
    plan_after_empty_baseline,
)

HEADER = "# bisync listing v1 from 2026-12-02T13:42:11.434938928+0000\n"
ENTRY = '-        3 - - 2026-12-02T13:42:11.446726832+0000 "x"\n'


def test_both_sides_still_empty_is_nothing_to_do() -> None:
    assert plan_after_empty_baseline([], []) == EmptyBaselinePlan("nothing", 0, 0)


@pytest.mark.parametrize(
    ("local", "remote"),
    [(["a.txt"], []), ([], ["b/c.md"]), (["a.txt", "d/e"], ["b/c.md"])],
)
def test_only_new_files_on_one_side_each_resync(local: list[str], remote: list[str]) -> None:
    plan = plan_after_empty_baseline(local, remote)
    assert plan == EmptyBaselinePlan("resync", len(local), len(remote))


def test_a_path_on_both_sides_is_blocked_and_named() -> None:
    plan = plan_after_empty_baseline(["z", "same.txt", "a/b"], ["a/b", "same.txt", "other"])
    assert plan.action == "blocked"
    assert plan.common == ("a/b", "same.txt")
    assert plan.describe_common() == "'a/b', 'same.txt'"


def test_a_refusal_names_a_few_paths_and_counts_the_rest() -> None:
    names = [f"f{i}" for i in range(5)]
    plan = plan_after_empty_baseline(names, names)
    assert plan.describe_common() == "'f0', 'f1', 'f2' and 2 more"


def test_listing_files(tmp_path: Path) -> None:
    empty, full, blank = tmp_path / "s.path1.lst", tmp_path / "s.path2.lst", tmp_path / "b"
    empty.write_text(HEADER, encoding="utf-8")
    full.write_text(HEADER + ENTRY, encoding="utf-8")
    blank.write_text("\n", encoding="utf-8")
    assert listing_is_empty(empty)
    assert listing_is_empty(blank)
    assert not listing_is_empty(full)
    assert not listing_is_empty(tmp_path / "missing.lst")  # unreadable: not "empty"
    assert not listings_empty(tmp_path, "s")
    full.write_text(HEADER, encoding="utf-8")
    assert listings_empty(tmp_path, "s")
