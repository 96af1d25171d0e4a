"""Issue 15, folder renames under ``watch``: a renamed folder is moved on the remote (``rclone
moveto``), counted as a rename and not as N deletions, so the delete guard does not block the
daemon; chains, edits right after the move, odd names, moves into excluded folders, bisync."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from tests.conftest import S3Server, Setup, WatchStarter, run_cli, tree, wait_until
from watcher.config import load_config
from watcher.engine import CycleReport, open_session, run_cycle
from watcher.plan.moves import Move

#: Files of the folder that is renamed (most of the tree) and files elsewhere.
IN_FOLDER, ELSEWHERE = 20, 2


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> Iterator[S3Server | None]:
    """A local remote, or ``rclone serve s3``."""
    yield None if request.param == "local" else request.getfixturevalue("s3_server")


def _synced(setup: Setup) -> dict[str, bytes]:
    """The remote tree without the mailbox's own folders."""
    return {k: v for k, v in tree(setup.cloud).items() if not k.startswith(("_inbox", "_outbox"))}


def _local(setup: Setup) -> dict[str, bytes]:
    return {k: v for k, v in tree(setup.sync_root).items() if not k.startswith("_inbox")}


def _populate(root: Path, folder: str, count: int = IN_FOLDER) -> None:
    (root / folder).mkdir(parents=True)
    for i in range(count):
        (root / folder / f"f{i:02d}.txt").write_text(f"{folder} file {i}\n" * 3)
    for i in range(ELSEWHERE):
        (root / f"top{i}.txt").write_text(f"top {i}")


def _mailbox(make_setup: Callable[..., Setup], s3: S3Server | None, **extra: object) -> Setup:
    setup = make_setup("mailbox", s3=s3, debounce=0.3, max_delay=3.0, **extra)
    setup.sync_root.mkdir(parents=True)
    return setup


def _converged_or_refused(setup: Setup, text: Callable[[], str], timeout: float = 30) -> None:
    """Wait until the remote tree equals the local one, or the daemon refused; fail on the
    refusal with its log line."""
    wait_until(lambda: _synced(setup) == _local(setup) or "refused" in text(), timeout)
    refusals = [line for line in text().splitlines() if "refused" in line]
    assert not refusals, refusals[0]


def test_folder_rename_is_a_move_not_deletes(
    make_setup: Callable[..., Setup], start_watch: WatchStarter, backend: S3Server | None
) -> None:
    """20 of 22 files in docs/; ``mv docs papers`` under watch: not blocked, the remote tree
    equals the local one, the push says moved (20 files), nothing re-uploaded."""
    setup = _mailbox(make_setup, backend)
    _populate(setup.sync_root, "docs")
    watcher = start_watch(setup.config)
    wait_until(lambda: _synced(setup) == _local(setup), 30)
    os.rename(setup.sync_root / "docs", setup.sync_root / "papers")
    _converged_or_refused(setup, watcher.text)
    wait_until(lambda: "moved docs → papers (20 files)" in watcher.text(), 10)
    assert "blocked" not in watcher.text()
    assert watcher.alive()


def test_chain_edit_during_debounce_odd_names_then_into_excluded(
    make_setup: Callable[..., Setup], start_watch: WatchStarter
) -> None:
    """A chain a → b → c in one burst is one move; a rename to a 200-byte name with spaces
    followed at once (inside the debounce) by an edit and a new file in the new folder: both
    converge, as moves, without a block. Last, moving that folder into an excluded one is
    deletions, refused by the guard as before: nothing is moved or deleted remotely."""
    setup = _mailbox(make_setup, None, exclude=["**/.DS_Store", "archive/**"])
    _populate(setup.sync_root, "a")
    (setup.sync_root / "a" / "deep").mkdir()
    (setup.sync_root / "a" / "deep" / "x y.txt").write_text("deep")
    (setup.sync_root / "archive").mkdir()
    watcher = start_watch(setup.config)
    wait_until(lambda: _synced(setup) == _local(setup), 30)
    os.rename(setup.sync_root / "a", setup.sync_root / "b")
    os.rename(setup.sync_root / "b", setup.sync_root / "c")
    _converged_or_refused(setup, watcher.text)
    wait_until(lambda: "push: moved a → c (21 files); copied 0" in watcher.text(), 10)
    odd = "my folder " + "é" * 95  # 200 bytes
    assert len(odd.encode()) == 200
    os.rename(setup.sync_root / "c", setup.sync_root / odd)
    (setup.sync_root / odd / "f00.txt").write_text("edited right after the move")
    (setup.sync_root / odd / "new file.txt").write_text("new")
    _converged_or_refused(setup, watcher.text)
    assert _synced(setup)[f"{odd}/f00.txt"] == b"edited right after the move"
    wait_until(lambda: f"moved c → {odd} (21 files)" in watcher.text(), 10)
    assert "blocked" not in watcher.text() and watcher.alive()

    before = _synced(setup)
    os.rename(setup.sync_root / odd, setup.sync_root / "archive" / odd)
    wait_until(lambda: "refused" in watcher.text(), 30)
    assert "would delete 22 of 24 files" in watcher.text()
    assert f"moved {odd} →" not in watcher.text()
    assert _synced(setup) == before


def test_bisync_folder_rename_of_most_files(
    make_setup: Callable[..., Setup], start_watch: WatchStarter, backend: S3Server | None
) -> None:
    """bisync: ``mv docs papers`` (20 of 22 files) under watch: not blocked by bisync's
    too-many-deletes safety, both sides converge, no conflict copies, the run says moved."""
    setup = make_setup("bisync", s3=backend, debounce=0.3, max_delay=3.0)
    setup.sync_root.mkdir(parents=True)
    _populate(setup.sync_root, "docs")
    result = run_cli("sync", "--resync", config=setup.config)
    assert result.exit_code == 0, result.output
    watcher = start_watch(setup.config, ready="bisync:")
    os.rename(setup.sync_root / "docs", setup.sync_root / "papers")
    wait_until(
        lambda: "moved docs → papers (20 files)" in watcher.text() or "blocked" in watcher.text(),
        30,
    )
    blocked = [line for line in watcher.text().splitlines() if "blocked" in line]
    assert not blocked, blocked[0]
    wait_until(lambda: tree(setup.cloud) == tree(setup.sync_root), 10)
    assert not [k for k in tree(setup.cloud) if ".conflict" in k]
    assert "bisync: moved docs → papers (20 files); copied 0, deleted 0" in watcher.text()
    assert sorted(k for k in tree(setup.cloud) if k.startswith("papers/"))[0] == "papers/f00.txt"


def _push_moves(setup: Setup, *moves: Move, paths: tuple[str, ...] = ()) -> CycleReport:
    """The daemon's push of a batch holding ``moves`` (and changed ``paths``), run directly."""

    async def run() -> CycleReport:
        session = await open_session(load_config(setup.config))
        return await run_cycle(
            session, only={"push"}, push_paths=set(paths), known_dest_files=22, moves=moves
        )

    result: CycleReport = anyio.run(run)
    return result


def test_moves_that_no_longer_hold_fall_back_to_the_guarded_push(
    make_setup: Callable[..., Setup],
) -> None:
    """At run time: a remote destination holding a file the local one lacks, or a local source
    that exists again, is no move: the full push runs, and its guard refuses the deletions; a
    remote source that does not exist is nothing to move (the folder is uploaded)."""
    setup = _mailbox(make_setup, None)
    _populate(setup.sync_root, "docs")
    assert run_cli("sync", config=setup.config).exit_code == 0
    os.rename(setup.sync_root / "docs", setup.sync_root / "papers")
    (setup.cloud / "papers").mkdir()
    (setup.cloud / "papers" / "remote only.txt").write_text("keep me")
    report = _push_moves(setup, Move("docs", "papers"))
    assert not report.ok and "would delete 21 of 23 files" in report.records[0].message
    assert (setup.cloud / "papers" / "remote only.txt").read_text() == "keep me"
    assert len(list((setup.cloud / "docs").iterdir())) == IN_FOLDER  # not moved

    (setup.cloud / "papers" / "remote only.txt").unlink()
    (setup.sync_root / "docs").mkdir()  # the source is back
    report = _push_moves(setup, Move("docs", "papers"))
    assert not report.ok and "would delete 20 of 22 files" in report.records[0].message

    (setup.sync_root / "docs").rmdir()
    os.rename(setup.sync_root / "papers", setup.sync_root / "new")
    report = _push_moves(setup, Move("gone", "new"), Move("docs", "new"), paths=("top0.txt",))
    assert report.ok, report.records[0].message
    assert report.records[0].message.startswith("gone → new: nothing to move; moved docs")
    assert _synced(setup) == _local(setup)
