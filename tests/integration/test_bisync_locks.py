"""bisync locks: a lock whose owner is not a live rclone is cleared; a live one never is."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import run_cli
from watcher.config import load_config
from watcher.engine import state_paths
from watcher.engine.bisync import listing_stem, names_for
from watcher.plan import plan_cycle


def _lock_path(setup):
    cfg = load_config(setup.config)
    workdir = state_paths(cfg).bisync_workdir
    stem = listing_stem(workdir, names_for(plan_cycle(cfg)[0], cfg))
    assert stem is not None
    return workdir / f"{stem}.lck"


def _write_lock(path, pid):
    path.write_text(
        json.dumps(
            {
                "Session": "x",
                "PID": str(pid),
                "TimeRenewed": "2026-01-01T00:00:00Z",
                "TimeExpires": "2226-01-01T00:00:00Z",
            }
        )
    )


def _bisync_setup(make_setup):
    setup = make_setup("bisync")
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    assert run_cli("sync", "--resync", config=setup.config).exit_code == 0
    return setup


def test_lock_of_dead_pid_is_cleared(make_setup):
    setup = _bisync_setup(make_setup)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = _lock_path(setup)
    _write_lock(lock, dead.pid)
    (setup.sync_root / "b.txt").write_text("b")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 0, result.output
    assert (setup.cloud / "b.txt").read_text() == "b"
    assert "stale bisync lock" in result.output


def test_lock_of_live_non_rclone_pid_is_cleared(make_setup):
    """A live pid that is not rclone (pid reuse in containers) does not own the lock."""
    setup = _bisync_setup(make_setup)
    _write_lock(_lock_path(setup), os.getpid())
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 0, result.output


def test_live_rclone_lock_is_never_removed(make_setup, s3_server):
    """The lock of a live rclone (here the test's S3 server, an rclone process started before
    the lock) stays; the run fails with exit 1 and says another bisync runs."""
    setup = _bisync_setup(make_setup)
    lock = _lock_path(setup)
    _write_lock(lock, s3_server.process.pid)
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1
    assert "another bisync" in result.output
    assert lock.exists()
