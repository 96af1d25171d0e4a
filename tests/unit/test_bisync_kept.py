"""The decisions after a bisync run (findings 16-4b, 16-5), on real files in a tmp dir:
which replaced local files are put back, and when rclone's aborted listings are restored."""

from __future__ import annotations

import os
from pathlib import Path

from watcher.engine.bisync_kept import keep_overwritten, prior_copy
from watcher.engine.bisync_recover import restore_listings, type_clash_abort
from watcher.rclone import RcloneResult


def _file(path: Path, data: bytes, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def test_a_replaced_file_that_matches_the_prior_listing_is_dropped(tmp_path: Path) -> None:
    backups, root = tmp_path / "b", tmp_path / "root"
    _file(backups / "d/x.txt", b"old", 1000.0)
    root.mkdir()

    kept = keep_overwritten(backups, root, lambda: {"d/x.txt": (3, 1000.0)})

    assert kept == []
    assert not backups.exists()
    assert list(root.iterdir()) == []


def test_a_changed_file_is_put_back_under_its_name_or_as_the_next_conflict_copy(
    tmp_path: Path,
) -> None:
    backups, root = tmp_path / "b", tmp_path / "root"
    _file(backups / "a.txt", b"local edit", 2000.0)  # replaced by the remote's version
    _file(backups / "gone.txt", b"edited, then deleted by the run", 2000.0)
    _file(root / "a.txt", b"the remote's version", 1500.0)
    _file(root / "a.txt.conflict1", b"an older loser", 1400.0)

    kept = keep_overwritten(backups, root, lambda: {"a.txt": (3, 1000.0), "gone.txt": (3, 1.0)})

    assert sorted(kept) == ["a.txt.conflict2", "gone.txt"]
    assert (root / "a.txt.conflict2").read_bytes() == b"local edit"
    assert (root / "a.txt.conflict1").read_bytes() == b"an older loser"
    assert (root / "gone.txt").read_bytes() == b"edited, then deleted by the run"
    assert not backups.exists()


def test_nothing_backed_up_reads_no_listing(tmp_path: Path) -> None:
    def never() -> dict[str, tuple[int, float]]:
        raise AssertionError("read")

    assert keep_overwritten(tmp_path / "none", tmp_path, never) == []


def test_the_prior_listing_is_copied_not_linked(tmp_path: Path) -> None:
    listing = tmp_path / "s.path1.lst"
    listing.write_text("before")
    copy = prior_copy(tmp_path, "s", tmp_path / "prior")
    listing.write_text("rewritten in place")
    assert copy is not None and copy.read_text() == "before"
    assert prior_copy(tmp_path, None, tmp_path / "prior") is None


def _result(*errors: str) -> RcloneResult:
    return RcloneResult(args=("bisync",), exit_code=7, duration=0.1, errors=list(errors))


def test_only_a_critical_abort_on_a_type_clash_is_recovered() -> None:
    clash = "Bisync critical error: mkdir r-1/a.txt: not a directory"
    assert type_clash_abort(_result(clash, "Bisync aborted. Must run --resync to recover."))
    assert not type_clash_abort(
        _result("Bisync critical error: permission denied", "Must run --resync to recover.")
    )
    assert not type_clash_abort(_result("a.txt: not a directory"))
    for seen in (  # the oracle's aborts on a source changed during the copy (rclone 1.75.2)
        'corrupted on transfer: md5 hashes differ src(Local file system at l-1) "" vs …',
        "can't copy - source file is being updated (size changed from 1777 to 0)",
    ):
        critical = f"Bisync critical error: {seen}"
        assert type_clash_abort(_result(critical, "Bisync aborted. Must run --resync to recover."))


def test_err_listings_are_put_back_only_when_both_are_there_and_no_current_one(
    tmp_path: Path,
) -> None:
    for n in (1, 2):
        (tmp_path / f"s.path{n}.lst-err").write_text(f"prior {n}")
    assert restore_listings(tmp_path, "s")
    assert (tmp_path / "s.path2.lst").read_text() == "prior 2"
    assert not restore_listings(tmp_path, "s")  # nothing left to put back
    (tmp_path / "s.path1.lst-err").write_text("again")
    assert not restore_listings(tmp_path, "s")  # current listings exist: untouched
    assert (tmp_path / "s.path1.lst-err").exists()
