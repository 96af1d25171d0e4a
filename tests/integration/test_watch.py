"""The watch daemon with real watchdog and real rclone: changes reach the remote, bursts do not
cause run storms, own writes never trigger runs, clean shutdown, one daemon per config."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    S3Server,
    Setup,
    rclone_processes,
    run_cli,
    tree,
    wait_until,
)
from watcher.config import load_config
from watcher.engine import last_runs, state_paths


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[S3Server | None]:
    if request.param == "local":
        yield None
        return
    server = request.getfixturevalue("s3_server")
    yield server


def _change_and_wait(setup: Setup, kind: str) -> None:
    """Write a sentinel file and wait until the run that carries it is recorded: every run
    before it has then been logged too."""
    written = time.time()
    (setup.sync_root / "sentinel.txt").write_text("s")
    paths = state_paths(load_config(setup.config))
    wait_until(
        lambda: (
            (setup.cloud / "sentinel.txt").exists()
            and last_runs(paths).get(kind, {}).get("started", 0) >= written
        ),
        timeout=30,
    )


def _mailbox(make_setup: Callable[..., Setup], s3: S3Server | None) -> Setup:
    setup = make_setup("mailbox", s3=s3, debounce=0.2, max_delay=2.0)
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    return setup


def test_create_edit_delete_rename_reach_remote(make_setup, start_watch, backend):
    setup = _mailbox(make_setup, backend)
    (setup.sync_root / "old.txt").write_text("old")
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "old.txt").exists())

    (setup.sync_root / "new dir").mkdir()
    (setup.sync_root / "new dir" / "n é.txt").write_text("new")
    wait_until(lambda: tree(setup.cloud).get("new dir/n é.txt") == b"new")

    (setup.sync_root / "new dir" / "n é.txt").write_text("edited")
    wait_until(lambda: tree(setup.cloud).get("new dir/n é.txt") == b"edited")

    (setup.sync_root / "old.txt").unlink()
    wait_until(lambda: not (setup.cloud / "old.txt").exists())

    (setup.sync_root / "new dir" / "n é.txt").rename(setup.sync_root / "renamed.txt")
    wait_until(
        lambda: "renamed.txt" in tree(setup.cloud) and "new dir/n é.txt" not in tree(setup.cloud)
    )
    assert {k: v for k, v in tree(setup.cloud).items() if not k.startswith("_")} == {
        "renamed.txt": b"edited"
    }
    assert watcher.proc.poll() is None


def test_burst_is_few_runs(make_setup, start_watch):
    setup = _mailbox(make_setup, None)
    watcher = start_watch(setup.config)
    before = watcher.count("push:")
    for i in range(2000):
        folder = setup.sync_root / f"d{i % 20}"
        folder.mkdir(exist_ok=True)
        (folder / f"f{i}.txt").write_text(str(i))
    wait_until(lambda: len(list(setup.cloud.rglob("f*.txt"))) == 2000, timeout=60)
    _change_and_wait(setup, "push")
    runs = watcher.count("push:") - before - 1  # without the sentinel's run
    assert 1 <= runs <= 4, watcher.text()


def test_outbox_drop_lands_and_causes_no_push(make_setup, start_watch):
    setup = _mailbox(make_setup, None)
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "_outbox").is_dir())
    pushes = watcher.count("push:")
    (setup.cloud / "_outbox" / "hello.txt").write_text("hi")
    wait_until(lambda: (setup.sync_root / "_inbox" / "hello.txt").exists())
    wait_until(lambda: not (setup.cloud / "_outbox" / "hello.txt").exists())
    # A real change afterwards: its push is the only one since the drop.
    _change_and_wait(setup, "push")
    assert watcher.count("push:") == pushes + 1, watcher.text()
    assert not (setup.cloud / "_inbox").exists()


def test_bisync_own_writes_cause_no_extra_run(make_setup, start_watch):
    setup = make_setup("bisync", debounce=0.2, max_delay=2.0)
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    assert run_cli("sync", "--resync", config=setup.config).exit_code == 0
    watcher = start_watch(setup.config, ready="bisync:")
    runs = watcher.count("bisync:")
    (setup.cloud / "from-remote.txt").write_text("remote")
    wait_until(lambda: (setup.sync_root / "from-remote.txt").exists())
    wait_until(lambda: watcher.count("bisync:") > runs)
    _change_and_wait(setup, "bisync")
    assert watcher.count("bisync:") == runs + 2, watcher.text()


def test_sigterm_stops_cleanly_without_orphans(make_setup, start_watch, s3_server):
    setup = _mailbox(make_setup, s3_server)
    watcher = start_watch(setup.config)
    before = set(rclone_processes(setup.root))
    (setup.sync_root / "big.bin").write_bytes(os.urandom(200 * 1024 * 1024))
    wait_until(lambda: set(rclone_processes(setup.root)) - before, timeout=20, interval=0.005)
    assert watcher.stop() == 0, watcher.text()
    wait_until(lambda: not (set(rclone_processes(setup.root)) - before), timeout=10)
    assert "SIGTERM received" in watcher.text()


def test_second_watch_exits_2_naming_pid(make_setup, start_watch):
    setup = _mailbox(make_setup, None)
    first = start_watch(setup.config)
    second = start_watch(setup.config, ready="")
    assert second.proc.wait(30) == 2
    assert f"pid {first.proc.pid}" in second.text()


def test_trigger_reaches_daemon(make_setup, start_watch):
    setup = _mailbox(make_setup, None)
    watcher = start_watch(setup.config)
    result = run_cli("trigger", config=setup.config)
    assert result.exit_code == 0
    assert f"pid {watcher.proc.pid}" in result.output
    wait_until(lambda: "trigger received" in watcher.text())
    wait_until(lambda: watcher.count("drain:") >= 2)


def test_trigger_without_daemon_runs_one_cycle(make_setup):
    setup = _mailbox(make_setup, None)
    (setup.sync_root / "x.txt").write_text("x")
    result = run_cli("trigger", config=setup.config)
    assert result.exit_code == 0, result.output
    assert (setup.cloud / "x.txt").exists()
    result = run_cli("trigger", "--event", "session-start", config=setup.config)
    assert result.exit_code == 0 and "nothing to do" in result.output


def test_daemon_survives_remote_outage(make_setup, start_watch, s3_server, tmp_path):
    from tests.conftest import start_s3

    setup = _mailbox(make_setup, s3_server)
    watcher = start_watch(setup.config, ready="drain:")
    port = int(s3_server.endpoint.rsplit(":", 1)[1])
    s3_server.stop()
    (setup.sync_root / "during-outage.txt").write_text("o")
    wait_until(lambda: "retrying in" in watcher.text(), timeout=90)
    restarted = start_s3(s3_server.root, tmp_path / "s3scratch2", port=port)
    try:
        wait_until(lambda: (setup.cloud / "during-outage.txt").exists(), timeout=90)
        assert watcher.proc.poll() is None
    finally:
        restarted.stop()


def test_watched_folder_deleted_and_recreated(make_setup, start_watch):
    """The sync root vanishes (as an unmounted disk would): the remote is kept (the full cycle
    is refused), and once the folder is back its new files are pushed again."""
    import shutil

    setup = _mailbox(make_setup, None)
    (setup.sync_root / "keep.txt").write_text("k")
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "keep.txt").exists())
    shutil.rmtree(setup.sync_root)
    wait_until(lambda: "blocked" in watcher.text(), timeout=30)
    assert (setup.cloud / "keep.txt").read_text() == "k"
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    (setup.sync_root / "back.txt").write_text("b")
    wait_until(lambda: (setup.cloud / "back.txt").exists(), timeout=30)
