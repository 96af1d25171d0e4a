"""Special files and type changes in the sync root, with real watchdog and real rclone (issue 14,
case 5): a FIFO or a UNIX socket never blocks or fails a push (their events are ignored and
reported once at INFO; full runs skip them), and a file replaced by a folder of the same name
(or the reverse) is pushed as delete + create instead of failing every push forever."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Setup, run_cli, tree, wait_until

#: A change must reach the remote this fast (debounce 0.2 s; old code: a FIFO blocked the push
#: until `timeout`, a type change failed every push).
ARRIVAL = 10.0


def _visible(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree(root).items() if not k.startswith("_")}


def _bind_socket(folder: Path, name: str) -> None:
    """Leave a UNIX socket file ``folder/name``; bound by a relative name after chdir, so the
    folder's path may be longer than AF_UNIX allows (108 bytes)."""
    here = Path.cwd()
    os.chdir(folder)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.bind(name)
    finally:
        os.chdir(here)
    assert (folder / name).is_socket()


def _mailbox(make_setup: Callable[..., Setup], monkeypatch: pytest.MonkeyPatch) -> Setup:
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")
    setup = make_setup("mailbox", debounce=0.2, max_delay=1.0, timeout=20)
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    return setup


def test_fifo_and_socket_under_watch_never_block_pushes(make_setup, start_watch, monkeypatch):
    setup = _mailbox(make_setup, monkeypatch)
    (setup.sync_root / "keep.txt").write_text("keep")
    (setup.sync_root / "gone.txt").write_text("gone")
    os.mkfifo(setup.sync_root / "early.fifo")  # the start-up full cycle skips it
    watcher = start_watch(setup.config)
    wait_until(lambda: "gone.txt" in _visible(setup.cloud), timeout=ARRIVAL)

    os.mkfifo(setup.sync_root / "late.fifo")
    _bind_socket(setup.sync_root, "s.sock")
    (setup.sync_root / "sub").mkdir()
    os.mkfifo(setup.sync_root / "sub" / "deep.fifo")
    time.sleep(0.5)  # let the special files' own events be taken alone first
    (setup.sync_root / "new.txt").write_text("new")
    wait_until(lambda: _visible(setup.cloud).get("new.txt") == b"new", timeout=ARRIVAL)
    (setup.sync_root / "gone.txt").unlink()
    wait_until(lambda: "gone.txt" not in _visible(setup.cloud), timeout=ARRIVAL)
    (setup.sync_root / "late.fifo").touch()  # another event for it: not reported again
    (setup.sync_root / "after.txt").write_text("after")
    wait_until(lambda: "after.txt" in _visible(setup.cloud), timeout=ARRIVAL)

    assert _visible(setup.cloud) == {"keep.txt": b"keep", "new.txt": b"new", "after.txt": b"after"}
    log = watcher.text()
    assert "push failed" not in log and "FAILED" not in log, log
    for name in ("late.fifo", "s.sock", "sub/deep.fifo"):
        lines = [line for line in log.splitlines() if name in line and "not a regular file" in line]
        assert len(lines) == 1 and lines[0].startswith("INFO"), log
    assert watcher.alive()


def test_file_replaced_by_folder_and_back_under_watch(make_setup, start_watch, monkeypatch):
    setup = _mailbox(make_setup, monkeypatch)
    (setup.sync_root / "a").write_text("file a")
    (setup.sync_root / "b").mkdir()
    (setup.sync_root / "b" / "inner.txt").write_text("inner")
    (setup.sync_root / "gone.txt").write_text("gone")
    watcher = start_watch(setup.config)
    wait_until(lambda: "b/inner.txt" in _visible(setup.cloud), timeout=ARRIVAL)

    (setup.sync_root / "a").unlink()  # file -> folder
    (setup.sync_root / "a").mkdir()
    (setup.sync_root / "a" / "x.txt").write_text("x")
    wait_until(lambda: _visible(setup.cloud).get("a/x.txt") == b"x", timeout=ARRIVAL)

    (setup.sync_root / "b" / "inner.txt").unlink()  # folder -> file
    (setup.sync_root / "b").rmdir()
    (setup.sync_root / "b").write_text("file b")
    wait_until(lambda: _visible(setup.cloud).get("b") == b"file b", timeout=ARRIVAL)

    (setup.sync_root / "gone.txt").unlink()  # deletes are not held back afterwards
    (setup.sync_root / "later.txt").write_text("later")
    wait_until(
        lambda: _visible(setup.cloud) == {"a/x.txt": b"x", "b": b"file b", "later.txt": b"later"},
        timeout=ARRIVAL,
    )
    log = watcher.text()
    assert "unreadable files ()" not in log and "retrying" not in log, log
    assert watcher.alive()


def test_one_shot_sync_skips_fifo_and_socket(make_setup, monkeypatch):
    setup = _mailbox(make_setup, monkeypatch)
    (setup.sync_root / "f.txt").write_text("f")
    os.mkfifo(setup.sync_root / "p.fifo")
    _bind_socket(setup.sync_root, "s.sock")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 0, result.output
    assert _visible(setup.cloud) == {"f.txt": b"f"}
