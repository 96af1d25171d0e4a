"""Unit tests for ``watcher.plan.bisync_types``: which side gives way when a path is a file on
one side and a folder on the other, judged against bisync's prior listings (pure)."""

from __future__ import annotations

from watcher.plan.bisync_types import Sides, TypeFix, plan_type_fixes, type_conflicts, unchanged

T = 1_700_000_000.0
BASE = {"a.txt": (5, T), "d/x.txt": (1, T), "d/y.txt": (1, T), "keep.txt": (4, T)}


def sides(local: dict[str, tuple[int, float]], remote: dict[str, tuple[int, float]]) -> Sides:
    """Both sides now, against :data:`BASE` on both sides."""
    return Sides(local, remote, BASE, BASE)


def test_type_conflicts_name_the_file_side() -> None:
    assert type_conflicts(["a", "b/c"], ["a/x", "b", "same"]) == [("a", "local"), ("b", "remote")]
    assert type_conflicts(["a/b/c"], ["a/b"]) == [("a/b", "remote")]
    assert type_conflicts(["a"], ["a"]) == []


def test_unchanged_compares_sizes_and_mtimes_within_the_tolerance() -> None:
    base = {"f": (3, T)}
    assert unchanged({"f": (3, T + 0.0005)}, base, ["f"], 0.001)
    assert not unchanged({"f": (3, T + 0.002)}, base, ["f"], 0.001)
    assert not unchanged({"f": (4, T)}, base, ["f"], 0.001)
    assert not unchanged({"f": (3, T)}, {}, ["f"], 0.001)
    assert not unchanged({"f": (3, T)}, base, ["f"], None)  # no modtimes: never provably equal
    assert not unchanged({}, base, [], 0.001)


def test_file_turned_into_a_folder_locally_removes_the_remote_file() -> None:
    local = {k: v for k, v in BASE.items() if k != "a.txt"} | {"a.txt/inner.txt": (3, T + 9)}
    fixes = plan_type_fixes(sides(local, dict(BASE)))
    assert fixes == (TypeFix("a.txt", "remote", "remove-file", ("a.txt",)),)
    assert "the remote file (unchanged since the last run) removed" in fixes[0].describe()


def test_file_turned_into_a_folder_remotely_removes_the_local_file() -> None:
    remote = {k: v for k, v in BASE.items() if k != "a.txt"} | {"a.txt/inner.txt": (3, T + 9)}
    fixes = plan_type_fixes(sides(dict(BASE), remote))
    assert fixes == (TypeFix("a.txt", "local", "remove-file", ("a.txt",)),)


def test_folder_turned_into_a_file_removes_the_other_sides_folder_files() -> None:
    local = {"a.txt": (5, T), "keep.txt": (4, T), "d": (9, T + 9)}
    fixes = plan_type_fixes(sides(local, dict(BASE)))
    assert fixes == (TypeFix("d", "remote", "remove-folder", ("d/x.txt", "d/y.txt")),)
    assert "(2 files, unchanged since the last run) would be removed" in fixes[0].describe(
        dry_run=True
    )


def test_edited_file_against_a_new_folder_is_kept_as_a_conflict_copy() -> None:
    local = {k: v for k, v in BASE.items() if k != "a.txt"} | {"a.txt/inner.txt": (3, T + 9)}
    remote = {**BASE, "a.txt": (20, T + 5)}
    fixes = plan_type_fixes(sides(local, remote))
    assert fixes == (TypeFix("a.txt", "remote", "keep-copy", ("a.txt",), "a.txt.conflict1"),)


def test_a_file_added_to_the_folder_makes_it_changed() -> None:
    """Folder side gained a file while the file side replaced the folder: a conflict, the
    file side's file kept, nothing removed."""
    local = {"a.txt": (5, T), "keep.txt": (4, T), "d": (9, T + 9)}
    remote = {**BASE, "d/new.txt": (2, T + 3)}
    fixes = plan_type_fixes(sides(local, remote))
    assert fixes == (TypeFix("d", "local", "keep-copy", ("d",), "d.conflict1"),)


def test_a_same_size_edit_in_the_folder_makes_it_changed() -> None:
    local = {"a.txt": (5, T), "keep.txt": (4, T), "d": (9, T + 9)}
    remote = {**BASE, "d/y.txt": (1, T + 1)}
    assert plan_type_fixes(sides(local, remote))[0].action == "keep-copy"


def test_the_conflict_copy_takes_the_next_free_name_on_either_side_or_baseline() -> None:
    base = {**BASE, "a.txt.conflict1": (1, T)}
    local = {"a.txt/inner.txt": (3, T + 9), "a.txt.conflict2": (1, T + 9), "keep.txt": (4, T)}
    remote = {**base, "a.txt": (20, T + 5), "A.TXT.CONFLICT3": (1, T + 9)}
    fixes = plan_type_fixes(Sides(local, remote, base, base))
    assert fixes[0].copy == "a.txt.conflict4"


def test_paths_new_on_both_sides_are_a_conflict() -> None:
    fixes = plan_type_fixes(Sides({"n": (1, T)}, {"n/m": (1, T)}, {}, {}))
    assert fixes == (TypeFix("n", "local", "keep-copy", ("n",), "n.conflict1"),)


def test_a_backend_without_modtimes_never_gives_way() -> None:
    """The remote keeps no modtimes: its file cannot be shown unchanged, so it is kept as a
    conflict copy rather than removed."""
    local = {k: v for k, v in BASE.items() if k != "a.txt"} | {"a.txt/inner.txt": (3, T + 9)}
    fixes = plan_type_fixes(Sides(local, dict(BASE), BASE, BASE, 1e-6, None))
    assert fixes[0].action == "keep-copy"
    assert fixes[0].side == "remote"


def test_no_type_change_no_fix() -> None:
    assert plan_type_fixes(sides(dict(BASE), {**BASE, "a.txt": (9, T + 1)})) == ()
