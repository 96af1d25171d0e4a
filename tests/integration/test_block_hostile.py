"""Issue 14 cases 3 and 8, hostile pass: a block lifts only when it is safe, and ``status``
health tells the truth (real rclone, local remote)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Setup, WatchStarter, run_cli, wait_until, write_config
from tests.integration.helpers import guard_blocked, paste
from tests.integration.test_backup import backup_setup, snapshots
from watcher.config.load import read_toml


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


def _status(setup: Setup) -> dict[str, Any]:
    result = run_cli("status", "--json", "--offline", config=setup.config)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_a_fixed_path_is_no_longer_stalled_while_another_still_fails(
    make_setup: Callable[..., Setup],
) -> None:
    """Two files fail every push (the remote holds folders of their names; one name has a
    newline): after 3 runs both are stalled. The user fixes one; the next run still fails,
    on the other only: the fixed one must no longer be named (it was pushed), and the name
    with a newline is named on one line by ``status``."""
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    odd = "new\nline"
    for name in ("x", odd):
        (setup.sync_root / name).write_text("a file")
        (setup.cloud / name).mkdir(parents=True)
        (setup.cloud / name / ".DS_Store").write_text("excluded")
    for _ in range(3):
        assert run_cli("sync", "--direction", "push", config=setup.config).exit_code == 1
    shown = "new\u240aline"  # rclone's log names it in its encoding (U+240A for LF)
    assert _status(setup)["stalled"] == {"x": 3, shown: 3}
    shutil.rmtree(setup.cloud / "x")  # fixed: x can be pushed now
    assert run_cli("sync", "--direction", "push", config=setup.config).exit_code == 1
    assert (setup.cloud / "x").read_text() == "a file"
    data = _status(setup)
    assert data["health"] == "stalled"
    assert data["stalled"] == {shown: 4}, "a path pushed by the last run is still named"
    text = run_cli("status", "--offline", config=setup.config).stdout
    rows = [line for line in text.splitlines() if line.startswith("stalled")]
    assert len(rows) == 1 and rows[0].endswith(f"{shown}: failed 4 runs in a row"), text


def test_a_refused_one_shot_run_is_not_health_ok(make_setup: Callable[..., Setup]) -> None:
    """`sync` refused before any step (an empty or missing workspace) was the last attempt:
    ``status`` must not say ``ok`` (it said ``ok``: nothing was recorded) but ``blocked`` with
    the fix, or ``retrying``; once a run gets through, ``ok`` again. A config that never
    synced is not taken for "has synced before" by such a failed attempt."""
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "keep.txt").write_text("k")
    assert run_cli("sync", config=setup.config).exit_code == 0
    shutil.rmtree(setup.sync_root)  # unmounted
    assert run_cli("sync", config=setup.config).exit_code == 1
    data = _status(setup)
    assert (data["health"], data["command"]) == (
        "blocked",
        f"workspace-sync sync --force --config {setup.config}",
    ), data["action"]
    setup.workspace.rmdir()  # now missing altogether
    assert run_cli("sync", config=setup.config).exit_code == 1
    data = _status(setup)
    assert data["health"] == "retrying" and "does not exist" in data["action"], data["action"]
    setup.sync_root.mkdir(parents=True)  # mounted again
    (setup.sync_root / "keep.txt").write_text("k")
    assert run_cli("sync", config=setup.config).exit_code == 0
    assert _status(setup)["health"] == "ok"
    raw = {**read_toml(setup.config), "workspace": str(setup.root / "fresh"), "remote_path": "f"}
    fresh = write_config(setup.root / "fresh.toml", raw)
    assert run_cli("sync", config=fresh).exit_code == 1  # its workspace is missing
    (setup.root / "fresh").mkdir()
    result = run_cli("sync", config=fresh)
    assert result.exit_code == 0, result.output


def test_fix_of_a_config_found_as_dot_sync_toml_works_pasted_elsewhere(
    make_setup: Callable[..., Setup],
) -> None:
    """The config is ``./sync.toml`` of a folder with a space in its name, found by the
    lookup in that folder: the printed fix must still name it (``./sync.toml`` is found only
    there), quoted, so that pasted in another folder it runs this config, not fails with "no
    config found" (or runs another folder's ``sync.toml``)."""
    setup = guard_blocked(make_setup)
    project = setup.root / "my proj"
    project.mkdir()
    config = project / "sync.toml"
    shutil.copy2(setup.config, config)
    refused = paste("workspace-sync sync", project, timeout=60)
    assert refused.returncode == 1, refused.stderr
    fix = next(
        line.removeprefix("to resolve: ")
        for line in refused.stderr.splitlines()
        if line.startswith("to resolve: ")
    )
    assert (
        fix == f"workspace-sync sync --force --direction push --config {shlex.quote(str(config))}"
    )
    forced = paste(fix, setup.root / "elsewhere", timeout=60)
    assert forced.returncode == 0, forced.stderr
    assert sorted(p.name for p in setup.cloud.iterdir()) == ["_outbox", "keep.txt"]


def test_a_refusal_whose_fix_is_no_command_gives_a_runnable_command(
    make_setup: Callable[..., Setup],
) -> None:
    """copy_symlinks = true and a link looping back into the tree: the refusal's fix is a
    sentence ("remove or exclude those links …"), not a command. ``status`` is ``blocked`` and
    its ``command`` is one that runs (the sync that checks again), not the sentence with
    ``--config PATH`` glued on."""
    setup = make_setup("mailbox", copy_symlinks=True)
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "keep.txt").write_text("k")
    os.symlink("..", setup.sync_root / "up")
    assert run_cli("sync", config=setup.config).exit_code == 1
    data = _status(setup)
    assert data["health"] == "blocked", data["action"]
    assert data["command"] == f"workspace-sync sync --config {setup.config}", data["command"]
    assert "remove or exclude those links, or set copy_symlinks = false" in data["action"]
    assert "false --config" not in data["action"]
    (setup.sync_root / "up").unlink()
    assert run_cli("sync", config=setup.config).exit_code == 0
    assert _status(setup)["health"] == "ok"


def test_no_snapshot_of_an_unmounted_workspace_nor_prune(
    make_setup: Callable[..., Setup], start_watch: WatchStarter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backups on, keep_last = 1, one real snapshot. The workspace is then an empty mount
    point: the blocked daemon's snapshot timer must not store an empty snapshot and prune the
    real one away (it did: "0 files", then "deleted 1 snapshots"); the last backup run is
    recorded as failed, naming the cause."""
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")
    setup = backup_setup(make_setup, None, interval=1, keep_last=1)
    (setup.sync_root / "a.txt").write_text("a")
    assert run_cli("sync", config=setup.config).exit_code == 0
    assert run_cli("backup", config=setup.config).exit_code == 0
    (real,) = snapshots(setup)
    shutil.rmtree(setup.sync_root)  # unmounted
    watcher = start_watch(setup.config, ready="")
    wait_until(lambda: "backup failed" in watcher.text() or "prune" in watcher.text(), timeout=15)
    assert "is an empty folder although it synced before (unmounted?)" in watcher.text()
    assert snapshots(setup) == [real]
    run = _status(setup)["last_runs"]["backup"]
    assert not run["ok"] and "no snapshot was taken, none pruned" in run["message"]


def test_no_drain_into_a_workspace_that_went_away(
    make_setup: Callable[..., Setup], start_watch: WatchStarter
) -> None:
    """A daemon whose push is blocked (delete guard) still drains. Then the workspace folder
    itself disappears (a removable drive unplugged: its mount point goes too). An inbound
    file must stay in the outbox: the drain the push block lets through recreated the
    workspace folder on the root file system and moved the file there."""
    setup = guard_blocked(make_setup)
    watcher = start_watch(setup.config, ready="")
    wait_until(lambda: "blocked:" in watcher.text(), timeout=30)  # push refused, drain ran
    shutil.rmtree(setup.workspace)
    inbound = setup.cloud / "_outbox" / "hello.txt"
    inbound.write_text("hi")
    wait_until(lambda: "does not exist" in watcher.text() or "drained 1" in watcher.text(), 15)
    assert inbound.read_text() == "hi", "drained into a recreated workspace"
    assert not setup.workspace.exists()
    assert len(list(setup.cloud.glob("old*.txt"))) == 12
