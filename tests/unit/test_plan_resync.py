"""Unit tests for ``watcher.plan.resync``: ``--resync-mode`` from ``conflict_resolve``, which
side loses a resync, and the free ``NAME.conflictN`` that keeps the loser."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_plan import make
from watcher.plan import plan_cycle
from watcher.plan.resync import (
    KeepCopy,
    Version,
    conflict_name,
    differs,
    losers,
    plan_keep_copies,
    resync_effect,
)


@pytest.mark.parametrize(
    ("setting", "mode"), [("newer", "newer"), ("local", "path1"), ("remote", "path2")]
)
def test_resync_mode_follows_conflict_resolve(tmp_path: Path, setting: str, mode: str) -> None:
    flags = plan_cycle(make(tmp_path, "bisync", conflict_resolve=setting), resync=True)[0].flags
    assert flags[-3:] == ("--resync-mode", mode, "--resync")
    assert flags.count("--resync-mode") == 1


def test_no_resync_mode_without_resync(tmp_path: Path) -> None:
    assert "--resync-mode" not in plan_cycle(make(tmp_path, "bisync"))[0].flags


OLD = Version(5, 1000.0, "aaa")
NEW = Version(6, 2000.0, "bbb")


@pytest.mark.parametrize(
    ("setting", "local", "remote", "expected"),
    [
        ("newer", OLD, NEW, ("local",)),
        ("newer", NEW, OLD, ("remote",)),
        ("newer", Version(5, 1000.0, "a"), Version(6, 1000.4, "b"), ("local", "remote")),
        ("local", OLD, NEW, ("remote",)),
        ("remote", NEW, OLD, ("local",)),
    ],
)
def test_losers(setting: str, local: Version, remote: Version, expected: tuple[str, ...]) -> None:
    assert losers(setting, local, remote) == expected


def test_differs_by_hash_then_size_then_mtime() -> None:
    assert not differs(Version(3, 1.0, "h"), Version(3, 900.0, "h"))  # same bytes, other mtime
    assert differs(Version(3, 1.0, "h"), Version(3, 1.0, "g"))
    assert differs(Version(3, 1.0, "h"), Version(4, 1.0, "h"))
    assert differs(Version(3, 1.0), Version(3, 900.0))  # no hash: an mtime change counts
    assert not differs(Version(3, 1.0), Version(3, 1.5))


def test_conflict_name_skips_taken_names_case_insensitively() -> None:
    assert conflict_name("a/f.txt", set()) == "a/f.txt.conflict1"
    assert conflict_name("a/f.txt", {"a/f.txt.conflict1", "a/f.txt.conflict2"}) == (
        "a/f.txt.conflict3"
    )
    assert conflict_name("F.txt", {"f.txt.conflict1"}) == "F.txt.conflict2"


def test_conflict_name_fits_255_bytes() -> None:
    long = "é" * 127 + "x"  # 255 bytes
    name = conflict_name(f"dir/{long}", set())
    base = name.rpartition("/")[2]
    assert base.endswith(".conflict1")
    assert len(base.encode()) <= 255
    base.encode()  # whole characters only


def test_plan_keeps_every_loser_under_distinct_names() -> None:
    local = {"f.txt": OLD, "same.txt": Version(1, 1.0, "s"), "only-local": OLD, "t.txt": OLD}
    remote = {
        "f.txt": NEW,
        "same.txt": Version(1, 500.0, "s"),
        "f.txt.conflict1": NEW,
        "t.txt": Version(6, 1000.2, "c"),
    }
    assert plan_keep_copies("newer", local, remote) == (
        KeepCopy("local", "f.txt", "f.txt.conflict2"),
        KeepCopy("local", "t.txt", "t.txt.conflict1"),
        KeepCopy("remote", "t.txt", "t.txt.conflict2"),
    )
    assert plan_keep_copies("local", {"f.txt": OLD}, {"f.txt": NEW}) == (
        KeepCopy("remote", "f.txt", "f.txt.conflict1"),
    )


@pytest.mark.parametrize("setting", ["newer", "local", "remote"])
def test_effect_names_the_setting_and_the_conflict_copy(setting: str) -> None:
    text = resync_effect(setting)
    assert f"conflict_resolve = {setting}" in text
    assert "NAME.conflictN" in text
    assert "deletes nothing" in text
