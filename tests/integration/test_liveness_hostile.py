"""Hostile pass on the daemon's liveness (issue 14, cases 1, 2, 4), real watchdog + rclone."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import Setup, Watcher, tree, wait_until
from watcher.config import load_config
from watcher.engine import state_paths

ARRIVAL = 10.0


def _mailbox(make_setup: Callable[..., Setup], **kw: Any) -> Setup:
    setup = make_setup("mailbox", debounce=0.2, max_delay=2.0, interval=0, **kw)
    return setup


def _lines(watcher: Watcher) -> int:
    return len(watcher.text().splitlines())


def _new(watcher: Watcher, since: int) -> str:
    return "\n".join(watcher.text().splitlines()[since:])


def _daemon_json(setup: Setup) -> dict[str, Any]:
    path = state_paths(load_config(setup.config)).state_dir / "daemon.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _started(watcher: Watcher) -> None:
    wait_until(lambda: "INFO    push:" in watcher.text() or not watcher.alive(), 60)
    assert watcher.alive(), watcher.text()


def test_symlink_root_retargeted_to_smaller_folder(make_setup: Any, start_watch: Any):
    """``shared -> A`` (10 files) atomically retargeted to ``B`` (1 file): the guarded full
    cycle refuses to delete A's files on the remote (blocked), a file then written into A (no
    longer the root) is not pushed."""
    setup = _mailbox(make_setup)
    a, b = setup.workspace / "A", setup.workspace / "B"
    a.mkdir()
    b.mkdir()
    for i in range(10):
        (a / f"a{i}.txt").write_text(str(i))
    (b / "b.txt").write_text("b")
    setup.sync_root.symlink_to(a)
    watcher = start_watch(setup.config)
    wait_until(lambda: len(tree(setup.cloud)) >= 10)
    mark = _lines(watcher)
    tmp = setup.workspace / "shared.tmp"
    tmp.symlink_to(b)
    tmp.rename(setup.sync_root)
    wait_until(lambda: "blocked" in _new(watcher, mark), timeout=ARRIVAL)
    (a / "late.txt").write_text("written into the old target")
    (b / "b2.txt").write_text("b2")
    assert set(tree(setup.cloud)) >= {f"a{i}.txt" for i in range(10)}  # the guard kept them
    assert "late.txt" not in tree(setup.cloud) and "Traceback" not in watcher.text()


def test_recreated_fast_with_inode_reuse(make_setup: Any, start_watch: Any):
    """``rm -rf`` and ``mkdir`` of the root well within one check interval, a file written at
    once (before any re-watch), then another one later: both arrive, twice in a row."""
    setup = _mailbox(make_setup)
    setup.sync_root.mkdir()
    (setup.sync_root / "keep.txt").write_text("k")
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "keep.txt").exists())
    for i in range(2):
        shutil.rmtree(setup.sync_root)
        setup.sync_root.mkdir(exist_ok=True)  # same inode number on ext4/tmpfs, often
        (setup.sync_root / "keep.txt").write_text("k")
        (setup.sync_root / f"fast{i}.txt").write_text("f")  # before any re-watch
        wait_until(lambda i=i: (setup.cloud / f"fast{i}.txt").exists(), timeout=ARRIVAL)
        (setup.sync_root / f"then{i}.txt").write_text("t")
        wait_until(lambda i=i: (setup.cloud / f"then{i}.txt").exists(), timeout=ARRIVAL)
    assert "Traceback" not in watcher.text()


def test_workspace_replaced(make_setup: Any, start_watch: Any):
    """The workspace (the sync root's parent) is renamed away and a copy put in its place:
    the copy's root is watched, files written into the old one are not pushed."""
    setup = _mailbox(make_setup)
    setup.sync_root.mkdir()
    (setup.sync_root / "keep.txt").write_text("k")
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "keep.txt").exists())
    old = setup.workspace.with_name("ws.old")
    setup.workspace.rename(old)
    shutil.copytree(old, setup.workspace)
    (setup.sync_root / "new.txt").write_text("n")
    wait_until(lambda: (setup.cloud / "new.txt").exists(), timeout=ARRIVAL)
    (old / "shared" / "stale.txt").write_text("s")
    (setup.sync_root / "sentinel.txt").write_text("n")
    wait_until(lambda: (setup.cloud / "sentinel.txt").exists(), timeout=ARRIVAL)
    assert "stale.txt" not in tree(setup.cloud)
    assert "Traceback" not in watcher.text()


def test_root_churn_never_kills_the_daemon(make_setup: Any, start_watch: Any):
    """The sync root is removed and recreated in a tight loop for a few seconds (a script
    gone wrong, an unstable mount): the daemon never dies with a traceback, and once the root
    stays put a new file arrives."""
    setup = _mailbox(make_setup)
    setup.sync_root.mkdir()
    (setup.sync_root / "keep.txt").write_text("k")
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "keep.txt").exists())
    end = time.monotonic() + 4
    while time.monotonic() < end and watcher.alive():
        shutil.rmtree(setup.sync_root, ignore_errors=True)
        setup.sync_root.mkdir(exist_ok=True)
    (setup.sync_root / "keep.txt").write_text("k")
    (setup.sync_root / "after.txt").write_text("a")
    wait_until(lambda: (setup.cloud / "after.txt").exists() or not watcher.alive(), ARRIVAL)
    assert watcher.alive(), watcher.text()
    assert "Traceback" not in watcher.text(), watcher.text()
