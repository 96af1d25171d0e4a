"""Liveness of the watch daemon (issue 14, cases 1 and 2), with real watchdog and real rclone:
a dead observer thread is restarted, and a sync root that was removed and restored, renamed and
recreated, or unmounted and remounted is watched again without `trigger`. ``interval = 0``
everywhere, so no fallback timer hides a deaf daemon."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Setup, Watcher, run_cli, tree, wait_until

#: The acceptance bound: a new file reaches the remote this fast without `trigger`.
ARRIVAL = 10.0


def _mailbox(make_setup: Callable[..., Setup]) -> Setup:
    setup = make_setup("mailbox", debounce=0.2, max_delay=2.0, interval=0)
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    return setup


def _arrives(setup: Setup, rel: str, content: str) -> None:
    (setup.sync_root / rel).write_text(content)
    wait_until(lambda: tree(setup.cloud).get(rel) == content.encode(), timeout=ARRIVAL)


def _new_lines(watcher: Watcher, since: int) -> str:
    return "\n".join(watcher.text().splitlines()[since:])


def _lines(watcher: Watcher) -> int:
    return len(watcher.text().splitlines())


def test_root_removed_restored_and_emptied(make_setup: Any, start_watch: Any, tmp_path: Path):
    """``rm -rf`` of the sync root, then restored with its files: the daemon watches it again
    and a new file arrives within 10 s. Then the root is emptied (blocked: the remote is kept),
    the user runs the named ``sync --force``, and new files are pushed again."""
    setup = _mailbox(make_setup)
    (setup.sync_root / "keep.txt").write_text("k")
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "keep.txt").exists())
    copy = tmp_path / "restore"
    shutil.copytree(setup.sync_root, copy)

    mark = _lines(watcher)
    shutil.rmtree(setup.sync_root)
    wait_until(lambda: "blocked" in _new_lines(watcher, mark), timeout=ARRIVAL)
    shutil.copytree(copy, setup.sync_root, dirs_exist_ok=True)  # restored, files and all
    _arrives(setup, "after-restore.txt", "r")
    assert (setup.cloud / "keep.txt").read_text() == "k"
    assert "watching it again" in watcher.text(), watcher.text()

    mark = _lines(watcher)
    shutil.rmtree(setup.sync_root)
    setup.sync_root.mkdir()  # an empty folder in its place: refused, the remote is kept
    wait_until(lambda: "blocked" in _new_lines(watcher, mark), timeout=ARRIVAL)
    assert (setup.cloud / "keep.txt").exists()
    done = run_cli("sync", "--force", "--direction", "push", config=setup.config)
    assert done.exit_code == 0, done.output
    wait_until(lambda: not (setup.cloud / "keep.txt").exists(), timeout=ARRIVAL)
    _arrives(setup, "after-force.txt", "f")
    assert watcher.alive() and "Traceback" not in watcher.text(), watcher.text()


def test_root_renamed_and_recreated(make_setup: Any, start_watch: Any, tmp_path: Path):
    """``mv shared shared.old; mkdir shared``: the new folder is watched (a file arrives within
    10 s, one log line says what happened), and files written into ``shared.old`` are not taken
    for files of ``shared``."""
    setup = _mailbox(make_setup)
    watcher = start_watch(setup.config)
    old = setup.workspace / "shared.old"
    setup.sync_root.rename(old)
    setup.sync_root.mkdir()
    _arrives(setup, "new.txt", "n")
    (old / "stale.txt").write_text("written into the renamed folder")
    _arrives(setup, "sentinel.txt", "s")  # every event before it has been handled
    assert "stale.txt" not in tree(setup.cloud)
    replaced = [line for line in watcher.text().splitlines() if "was replaced" in line]
    assert len(replaced) == 1, watcher.text()
    assert str(setup.sync_root) in replaced[0]


def test_root_tmpfs_unmounted_and_remounted(
    make_setup: Any, start_watch: Any, mount_tmpfs: Callable[[Path, int], Path]
):
    """The sync root is a tmpfs that is unmounted and mounted again (empty, as after a reboot
    of the disk): the remounted folder is watched, its new file arrives within 10 s."""
    setup = _mailbox(make_setup)
    mount_tmpfs(setup.sync_root, 4)
    (setup.sync_root / "on-tmpfs.txt").write_text("t")
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "on-tmpfs.txt").exists())
    mark = _lines(watcher)
    done = subprocess.run(["umount", str(setup.sync_root)], capture_output=True, check=False)
    if done.returncode:  # busy: detach it lazily, as a disk pulled out would be
        subprocess.run(["umount", "-l", str(setup.sync_root)], capture_output=True, check=True)
    wait_until(lambda: "was replaced" in _new_lines(watcher, mark), timeout=ARRIVAL)
    mount_tmpfs(setup.sync_root, 4)
    _arrives(setup, "remounted.txt", "m")
    assert watcher.alive() and "Traceback" not in watcher.text(), watcher.text()


#: Starts ``watch`` with the sync root observer's dispatch loop made to raise once (after the
#: file ``boom`` appears): the thread dies as it did of anyio 4.10's TypeError (issue 14, case 1).
_FAULTY_WATCH = """
import os, runpy, sys
from watchdog.observers import api
trigger, fired, original = sys.argv[1], [], api.BaseObserver.dispatch_events
def dispatch_events(self, queue):
    ours = any(e.watch.path == os.path.dirname(trigger) for e in self.emitters)
    if ours and not fired and os.path.exists(trigger):
        fired.append(1)
        raise TypeError("injected: the observer thread dies")
    original(self, queue)
api.BaseObserver.dispatch_events = dispatch_events
sys.argv = ["workspace-sync", *sys.argv[2:]]
runpy.run_module("watcher", run_name="__main__", alter_sys=True)
"""


def test_dead_observer_thread_is_restarted(make_setup: Any, start_watch: Any, tmp_path: Path):
    """The observer thread dies of an exception: the liveness check restarts the observers
    (logged), runs a full cycle, and later file events are pushed again."""
    setup = _mailbox(make_setup)
    boom = setup.sync_root / "boom.txt"
    log = tmp_path / "faulty-watch.log"
    argv = [sys.executable, "-c", _FAULTY_WATCH, str(boom), "--config", str(setup.config)]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [*argv, "watch"], stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    watcher = Watcher(proc, log)
    start_watch.started.append(watcher)  # stopped at teardown
    wait_until(lambda: "INFO    push:" in watcher.text() or not watcher.alive(), 60)
    boom.write_text("kills the observer thread")
    wait_until(lambda: "restarting" in watcher.text(), timeout=ARRIVAL)
    wait_until(lambda: (setup.cloud / "boom.txt").exists(), timeout=ARRIVAL)
    started = time.monotonic()
    _arrives(setup, "after.txt", "a")
    assert time.monotonic() - started < ARRIVAL
    assert watcher.alive(), watcher.text()
    restarts = [line for line in watcher.text().splitlines() if "restarting" in line]
    assert len(restarts) == 1 and "observer" in restarts[0], watcher.text()
    assert os.path.exists(boom)
