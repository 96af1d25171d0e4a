"""Consecutive failures per path (``failing-paths.json``): a path that a run covered and did
not name made it; a run limited to other paths says nothing of it."""

from __future__ import annotations

from pathlib import Path

from watcher.engine.failing import read_failing, update_failing
from watcher.engine.state import StatePaths


def test_counts_follow_what_each_run_covered(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path)
    for _ in range(3):
        update_failing(paths, "push", False, ["x", "y"])
    assert read_failing(paths) == {"push": {"x": 3, "y": 3}}
    update_failing(paths, "push", False, ["z"], covered={"z"})  # incremental: x, y untouched
    assert read_failing(paths) == {"push": {"x": 3, "y": 3, "z": 1}}
    update_failing(paths, "push", True, [], covered={"y", "other"})  # y was pushed
    assert read_failing(paths) == {"push": {"x": 3, "z": 1}}
    update_failing(paths, "push", False, ["x"], covered={"x"})
    assert read_failing(paths) == {"push": {"x": 4, "z": 1}}
    update_failing(paths, "push", False, ["z"])  # a full run: x made it
    assert read_failing(paths) == {"push": {"z": 2}}
    update_failing(paths, "push", False, [])  # names nothing: says nothing
    assert read_failing(paths) == {"push": {"z": 2}}
    update_failing(paths, "push", True, [])
    assert read_failing(paths) == {}
