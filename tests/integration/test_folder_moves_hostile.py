"""Issue 15, hostile checks of folder renames pushed as moves (rows 15-5g, 15-5h): a batch
that renames a folder and deletes files must not pass more deletions than the delete guard
allows for the whole destination, and a bisync move must never overwrite a file another
writer put under the remote destination."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import anyio

from tests.conftest import Setup, WatchStarter, run_cli, tree, wait_until
from watcher.config import load_config
from watcher.engine import CycleReport, open_session, run_cycle
from watcher.plan.moves import Move

#: Files in the folder that is renamed, and files beside it.
IN_FOLDER, ELSEWHERE = 20, 20


def _populate(root: Path) -> None:
    (root / "docs").mkdir(parents=True)
    for i in range(IN_FOLDER):
        (root / "docs" / f"f{i:02d}.txt").write_text(f"docs file {i}\n")
    for i in range(ELSEWHERE):
        (root / f"top{i:02d}.txt").write_text(f"top {i}\n")


def _cycle(setup: Setup, moves: tuple[Move, ...], **kwargs: object) -> CycleReport:
    """The daemon's run of a batch holding ``moves``, run directly."""

    async def run() -> CycleReport:
        session = await open_session(load_config(setup.config))
        return await run_cycle(session, settle_wait=False, moves=moves, **kwargs)  # type: ignore[arg-type]

    result: CycleReport = anyio.run(run)
    return result


def _files(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree(root).items() if not k.startswith(("_inbox", "_outbox"))}


def test_mailbox_rename_plus_deletes_cannot_pass_more_than_the_guard(
    make_setup: Callable[..., Setup],
) -> None:
    """40 files, 20 in docs/. One batch: ``mv docs papers``, delete 10 files of papers/ and
    11 top-level files: 21 of 40 real deletions, more than max_delete (50 %). Each part alone
    passes its own guard (the folder's scoped sync: 10 of 20; the listed paths: 11 of 40), so
    the push must judge them together: refused, the 21 files still on the remote, the move
    itself done (it loses nothing)."""
    setup = make_setup("mailbox")
    _populate(setup.sync_root)
    assert run_cli("sync", config=setup.config).exit_code == 0
    root = setup.sync_root
    os.rename(root / "docs", root / "papers")
    gone = [f"papers/f{i:02d}.txt" for i in range(10)] + [f"top{i:02d}.txt" for i in range(11)]
    for rel in gone:
        (root / rel).unlink()
    report = _cycle(
        setup,
        (Move("docs", "papers"),),
        only={"push"},
        push_paths=set(gone),
        known_dest_files=IN_FOLDER + ELSEWHERE,
    )
    remote = _files(setup.cloud)
    assert not report.ok, report.records[0].message
    assert "would delete 21 of 40 files" in report.records[0].message
    assert all(rel in remote for rel in gone), sorted(set(gone) - set(remote))[:3]


def test_bisync_move_never_overwrites_a_remote_file_under_its_destination(
    make_setup: Callable[..., Setup],
) -> None:
    """bisync: another writer put ``papers/f00.txt`` on the remote since the last run, while
    locally ``docs`` (holding ``f00.txt``) was renamed to ``papers``. Moving docs → papers on
    the remote would overwrite the other writer's file (neither side would keep it); the move
    is not done, bisync decides as before, and that file's content survives on some side."""
    setup = make_setup("bisync")
    _populate(setup.sync_root)
    assert run_cli("sync", "--resync", config=setup.config).exit_code == 0
    (setup.cloud / "papers").mkdir()
    (setup.cloud / "papers" / "f00.txt").write_text("the other writer's version\n")
    os.rename(setup.sync_root / "docs", setup.sync_root / "papers")
    report = _cycle(setup, (Move("docs", "papers"),))
    message = report.records[0].message
    kept = [
        rel
        for side in (setup.cloud, setup.sync_root)
        for rel, data in _files(side).items()
        if data == b"the other writer's version\n"
    ]
    assert kept, f"the remote-only papers/f00.txt was lost: {message}"
    assert "not moved: docs → papers" in message, message


def test_bisync_rename_then_delete_inside_keeps_the_deletes(
    make_setup: Callable[..., Setup],
) -> None:
    """bisync: ``mv docs papers`` then delete 5 of papers/'s 20 files, in one batch. The move
    must not bring those 5 back (moved on the remote, bisync would see them new there and copy
    them to the local side): they are deleted on both sides, counted as deletions; the other
    15 are moved, and the run is not blocked (5 of 40 is within the guard)."""
    setup = make_setup("bisync")
    _populate(setup.sync_root)
    assert run_cli("sync", "--resync", config=setup.config).exit_code == 0
    root = setup.sync_root
    os.rename(root / "docs", root / "papers")
    gone = [f"papers/f{i:02d}.txt" for i in range(5)]
    for rel in gone:
        (root / rel).unlink()
    report = _cycle(setup, (Move("docs", "papers"),))
    message = report.records[0].message
    assert report.ok, message
    back = sorted(rel for rel in gone if rel in _files(root) or rel in _files(setup.cloud))
    assert not back, f"deleted after the rename, back again: {back}; {message}"
    assert _files(root) == _files(setup.cloud)
    assert "moved docs → papers (15 files)" in message, message


def test_rename_to_the_name_of_an_excluded_folder_is_deletions(
    make_setup: Callable[..., Setup], start_watch: WatchStarter
) -> None:
    """``exclude = ["archive/**"]`` and no archive/ yet: ``mv docs archive`` under watch takes
    20 of 22 files out of the sync (the folder's own name is not matched by the pattern, its
    files are). That is deletions, not a move: the guard refuses, the remote keeps docs/ and
    gets no archive/ (the push never touches excluded files, so they would stay there unseen)."""
    setup = make_setup("mailbox", debounce=0.3, max_delay=3.0, exclude=["archive/**"])
    (setup.sync_root / "docs").mkdir(parents=True)
    for i in range(IN_FOLDER):
        (setup.sync_root / "docs" / f"f{i:02d}.txt").write_text(f"docs file {i}\n")
    for i in range(2):
        (setup.sync_root / f"top{i}.txt").write_text(f"top {i}\n")
    watcher = start_watch(setup.config)
    wait_until(lambda: len(_files(setup.cloud)) == IN_FOLDER + 2, 30)
    os.rename(setup.sync_root / "docs", setup.sync_root / "archive")
    wait_until(lambda: "refused" in watcher.text() or "moved docs" in watcher.text(), 30)
    remote = _files(setup.cloud)
    assert "moved docs" not in watcher.text(), [k for k in remote if "archive" in k][:2]
    assert "would delete 20 of 22 files" in watcher.text()
    assert len([k for k in remote if k.startswith("docs/")]) == IN_FOLDER
    assert not [k for k in remote if k.startswith("archive")]


def test_renamed_folder_replaced_by_another_is_no_move(
    make_setup: Callable[..., Setup], start_watch: WatchStarter
) -> None:
    """In one burst: ``mv docs papers``, ``mv papers OUT`` (out of the sync root), ``mv NEW
    papers`` (another folder, with the same file names). docs' files left the sync: that is
    deletions, not a rename, so the guard refuses; old code moved docs → papers on the remote
    and overwrote every file there with the stranger's, unguarded."""
    setup = make_setup("mailbox", debounce=1.0, max_delay=5.0)
    root = setup.sync_root
    (root / "docs").mkdir(parents=True)
    (setup.root / "new").mkdir()
    for i in range(IN_FOLDER):
        (root / "docs" / f"f{i:02d}.txt").write_text(f"docs file {i}\n")
        (setup.root / "new" / f"f{i:02d}.txt").write_text(f"another folder's file {i}\n")
    for i in range(2):
        (root / f"top{i}.txt").write_text(f"top {i}\n")
    watcher = start_watch(setup.config)
    wait_until(lambda: len(_files(setup.cloud)) == IN_FOLDER + 2, 30)
    os.rename(root / "docs", root / "papers")
    os.rename(root / "papers", setup.root / "out")
    os.rename(setup.root / "new", root / "papers")
    wait_until(lambda: "refused" in watcher.text() or "moved docs" in watcher.text(), 30)
    assert "moved docs" not in watcher.text(), _files(setup.cloud).get("papers/f00.txt")
    assert "would delete 20 of 22 files" in watcher.text()
    assert _files(setup.cloud)["docs/f00.txt"] == b"docs file 0\n"


def test_mailbox_folder_renamed_to_outbox_is_not_fed_to_the_drain(
    make_setup: Callable[..., Setup],
) -> None:
    """mailbox: the local sync root has no ``_outbox`` (it lives on the remote), so ``mv docs
    _outbox`` is a folder move to watchdog. Moving docs → _outbox on the remote handed the
    agent's own files to the drain (old code: "drained 20 files" into ``_inbox``): not moved,
    the full push decides (20 of 40 deletions, within the guard), the remote ``_outbox`` stays
    empty and nothing is drained."""
    setup = make_setup("mailbox")
    _populate(setup.sync_root)
    assert run_cli("sync", config=setup.config).exit_code == 0
    os.rename(setup.sync_root / "docs", setup.sync_root / "_outbox")
    report = _cycle(setup, (Move("docs", "_outbox"),))
    messages = " | ".join(r.message for r in report.records)
    assert "not moved: docs → _outbox" in messages, messages
    assert not list((setup.cloud / "_outbox").iterdir())
    assert "drained 20" not in messages and not (setup.sync_root / "_inbox" / "f00.txt").exists()
