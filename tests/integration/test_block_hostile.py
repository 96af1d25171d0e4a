"""Issue 14 cases 3 and 8, hostile pass: a block lifts only when it is safe, and ``status``
health tells the truth (real rclone, local remote)."""

from __future__ import annotations

import shutil
from collections.abc import Callable

from tests.conftest import Setup, WatchStarter, run_cli, wait_until


def test_daemon_started_on_an_unmounted_workspace_drains_nothing_into_it(
    make_setup: Callable[..., Setup], start_watch: WatchStarter
) -> None:
    """The workspace is an empty mount point (its file system not mounted yet, as at boot)
    after synced runs: the daemon must refuse the whole cycle. It must not create the sync
    root in the mount point and then, the workspace no longer looking empty, drain inbound
    files into it (hidden by the mount once it is back: lost)."""
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "keep.txt").write_text("k")
    assert run_cli("sync", config=setup.config).exit_code == 0
    shutil.rmtree(setup.sync_root)  # unmounted: an empty folder in place of the workspace
    inbound = setup.cloud / "_outbox" / "hello.txt"
    inbound.write_text("hi")
    watcher = start_watch(setup.config, ready="")
    wait_until(lambda: "blocked:" in watcher.text(), timeout=30)
    assert inbound.read_text() == "hi", "drained into the unmounted workspace"
    assert list(setup.workspace.iterdir()) == []
    assert (setup.cloud / "keep.txt").read_text() == "k"
    assert "is an empty folder although this config has synced before" in watcher.text()

