"""Hostile pass on the daemon's liveness (issue 14, cases 1, 2, 4), real watchdog + rclone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
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
    path = state_paths(load_config(setup.config)).daemon_state
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


def test_polled_root_sees_edits_renames_deletes_and_reload(make_setup: Any, tmp_path: Path):
    """Every root polled (no inotify watch left): a same-size edit within the same second, a
    rename and a delete all reach the remote; a SIGHUP with a new exclude keeps the root polled
    and the exclude applies; ``daemon.json`` lists the root under ``polled``, never ``deaf``."""
    from tests.integration.test_inotify_limits import _namespace_or_skip, _watch_in_namespace

    _namespace_or_skip()
    setup = _mailbox(make_setup)
    setup.sync_root.mkdir()
    for name in ("edit.txt", "old-name.txt", "gone.txt"):
        (setup.sync_root / name).write_text("aaaa")
    watcher = _watch_in_namespace(setup, tmp_path, 0)
    try:
        _started(watcher)
        state = wait_until(lambda: _daemon_json(setup).get("polled"))
        assert str(setup.sync_root) in state and _daemon_json(setup)["deaf"] == []
        (setup.sync_root / "edit.txt").write_text("bbbb")  # same size, same second
        (setup.sync_root / "old-name.txt").rename(setup.sync_root / "new-name.txt")
        (setup.sync_root / "gone.txt").unlink()
        odd = os.fsdecode(b"bad-\xff.txt"), "new\nline.txt", "n" * 251 + ".txt"
        for name in odd:
            (setup.sync_root / name).write_text("o")
        want = {"edit.txt": b"bbbb", "new-name.txt": b"aaaa"} | {name: b"o" for name in odd}
        wait_until(lambda: {k: v for k, v in tree(setup.cloud).items() if "/" not in k} == want)
        setup.config.write_text('exclude = ["*.tmp"]\n' + setup.config.read_text())
        os.kill(watcher.proc.pid, signal.SIGHUP)
        wait_until(lambda: "config reloaded" in watcher.text(), timeout=ARRIVAL)
        (setup.sync_root / "x.tmp").write_text("excluded")
        (setup.sync_root / "after-reload.txt").write_text("r")
        wait_until(lambda: "after-reload.txt" in tree(setup.cloud), timeout=ARRIVAL)
        assert "x.tmp" not in tree(setup.cloud)
        assert str(setup.sync_root) in _daemon_json(setup)["polled"]
        assert _daemon_json(setup)["deaf"] == []
        assert "Traceback" not in watcher.text(), watcher.text()
    finally:
        if watcher.alive():
            watcher.stop()
