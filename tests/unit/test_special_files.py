"""File ↔ folder changes between listings, the note for held-back deletes, special file types
(issue 14, case 5)."""

from __future__ import annotations

import os
from pathlib import Path

from watcher.engine.oneway import _held_back_note
from watcher.fsutil import special_kind
from watcher.plan.typechange import TypeChanges, type_changes
from watcher.rclone import RcloneResult


def test_file_replaced_by_folder_deletes_the_old_file() -> None:
    assert type_changes(["a/x.txt", "k"], ["a", "k"]) == TypeChanges(files=("a",))


def test_folder_replaced_by_file_deletes_the_old_folder_with_its_files() -> None:
    changes = type_changes(["b", "k"], ["b/in.txt", "b/deep/z", "k", "bb/x"])
    assert changes == TypeChanges(files=("b/deep/z", "b/in.txt"), folders=("b",))


def test_no_type_change_is_empty() -> None:
    assert not type_changes(["a/x", "b"], ["a/y", "b", "c/d"])
    assert not type_changes([], [])


def test_nested_type_change_below_an_unchanged_folder() -> None:
    assert type_changes(["d/e/f"], ["d/e"]) == TypeChanges(files=("d/e",))


def _result(*errors: str) -> RcloneResult:
    return RcloneResult(("sync",), 1, 0.1, errors=list(errors))


def test_held_back_note_names_the_real_cause_not_zero_unreadable_files() -> None:
    note = _held_back_note(
        _result(
            "t/in: Failed to copy: mkdir dst/t: not a directory",
            "Local file system at dst: not deleting files as there were IO errors",
            "Attempt 3/3 failed with 3 errors and: mkdir dst/t: not a directory",
        )
    )
    assert "unreadable" not in note
    assert "mkdir dst/t: not a directory" in note and "held back" in note


def test_held_back_note_still_names_unreadable_files() -> None:
    note = _held_back_note(
        _result(
            "x.txt: Failed to copy: open x.txt: permission denied",
            "Local file system at dst: not deleting files as there were IO errors",
        )
    )
    assert "1 unreadable files (x.txt)" in note
    assert _held_back_note(_result("x: some error")) == ""


def test_special_kind(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p")
    (tmp_path / "f").write_text("f")
    (tmp_path / "d").mkdir()
    (tmp_path / "l").symlink_to(tmp_path / "p")
    assert special_kind(tmp_path / "p") == "FIFO"
    assert [special_kind(tmp_path / n) for n in ("f", "d", "l", "missing")] == [None] * 4
    if Path("/dev/null").exists():
        assert special_kind(Path("/dev/null")) == "device"
