"""Issue 15, folder renames under ``watch``: a renamed folder is moved on the remote (``rclone
moveto``), counted as a rename and not as N deletions, so the delete guard does not block the
daemon; chains, edits right after the move, odd names, moves into excluded folders, bisync."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import S3Server, Setup, WatchStarter, tree, wait_until

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
