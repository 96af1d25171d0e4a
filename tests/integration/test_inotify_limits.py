"""inotify limits under ``watch`` (issue 14, case 4), with real watchdog and real rclone.

The daemon runs in its own user namespace (``unshare -U -r``), whose inotify watch limit
(``/proc/sys/user/max_inotify_watches``, counted per namespace since Linux 5.11) is lowered for
it alone: other tests running in parallel keep the system-wide ``fs.inotify.max_user_watches``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Setup, Watcher, tree, wait_until
from watcher.config import load_config
from watcher.engine import state_paths

LIMIT = "/proc/sys/user/max_inotify_watches"


def _namespace_or_skip() -> None:
    if not (shutil.which("unshare") and shutil.which("nsenter")):
        pytest.skip("needs unshare(1) and nsenter(1) to lower the inotify limit for one daemon")
    probe = subprocess.run(
        ["unshare", "-U", "-r", "sh", "-c", f"echo 5 > {LIMIT}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode:
        pytest.skip(f"cannot lower {LIMIT} in a user namespace: {probe.stderr.strip()}")


def _watch_in_namespace(setup: Setup, tmp_path: Path, limit: int) -> Watcher:
    """``watch`` in a new user namespace whose inotify watch limit is ``limit``."""
    log = tmp_path / "watch-ns.log"
    shell = f'echo {limit} > {LIMIT} && exec "$@"'
    argv = ["unshare", "-U", "-r", "sh", "-c", shell, "sh", sys.executable, "-m", "watcher"]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [*argv, "--config", str(setup.config), "watch"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Watcher(proc, log)


def _watches(pid: int) -> int:
    """inotify watches the process holds (one ``inotify wd:`` line each in its fdinfo)."""
    count = 0
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            count += info.read_text().count("inotify wd:")
        except OSError:
            continue
    return count


def _set_limit(pid: int, limit: int) -> None:
    subprocess.run(
        ["nsenter", "-t", str(pid), "-U", "sh", "-c", f"echo {limit} > {LIMIT}"], check=True
    )


def _warnings(watcher: Watcher) -> list[str]:
    return [line for line in watcher.text().splitlines() if "max_user_watches" in line]


def _setup(make_setup: Any) -> Setup:
    setup = make_setup("mailbox", debounce=0.2, max_delay=2.0, interval=0)
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    return setup


def _stop(watcher: Watcher) -> None:
    if watcher.alive():
        watcher.stop()


def test_watch_limit_full_at_start(make_setup: Any, tmp_path: Path) -> None:
    """No watch left at start-up: one warning naming the sysctl and the count needed, the roots
    are polled, changes are pushed; no traceback, no exit."""
    _namespace_or_skip()
    setup = _setup(make_setup)
    for i in range(5):
        (setup.sync_root / f"old{i}").mkdir()
        (setup.sync_root / f"old{i}" / "f.txt").write_text(str(i))
    watcher = _watch_in_namespace(setup, tmp_path, 0)
    try:
        wait_until(lambda: "INFO    push:" in watcher.text() or not watcher.alive(), 60)
        assert watcher.alive(), watcher.text()
        (setup.sync_root / "later").mkdir()
        (setup.sync_root / "later" / "new.txt").write_text("n")
        (setup.sync_root / "top.txt").write_text("t")
        wait_until(lambda: {"later/new.txt", "top.txt", "old4/f.txt"} <= set(tree(setup.cloud)))
        text = watcher.text()
        assert "Traceback" not in text, text
        warnings = _warnings(watcher)
        assert len(warnings) == 1, text
        assert "fs.inotify.max_user_watches" in warnings[0] and "polling" in warnings[0]
    finally:
        _stop(watcher)


def test_watch_limit_reached_by_new_folders(make_setup: Any, tmp_path: Path) -> None:
    """The watch table fills while 101 new folders appear (watchdog misses the folders it could
    not watch, silently): one warning, the root is polled, all 101 files are pushed."""
    _namespace_or_skip()
    setup = _setup(make_setup)
    watcher = _watch_in_namespace(setup, tmp_path, 100000)
    try:
        wait_until(lambda: "INFO    push:" in watcher.text() or not watcher.alive(), 60)
        assert watcher.alive(), watcher.text()
        _set_limit(watcher.proc.pid, _watches(watcher.proc.pid) + 5)
        for i in range(101):
            folder = setup.sync_root / f"d{i:03}"
            folder.mkdir()
            (folder / "f.txt").write_text(str(i))
        names = {f"d{i:03}/f.txt" for i in range(101)}
        wait_until(lambda: names <= set(tree(setup.cloud)), timeout=15)
        text = watcher.text()
        assert "Traceback" not in text, text
        warnings = _warnings(watcher)
        assert len(warnings) == 1, text
        assert "polling" in warnings[0]
        daemon_json = state_paths(load_config(setup.config)).daemon_state
        polled = wait_until(lambda: json.loads(daemon_json.read_text()).get("polled"))
        assert str(setup.sync_root) in polled and watcher.alive()
    finally:
        _stop(watcher)
