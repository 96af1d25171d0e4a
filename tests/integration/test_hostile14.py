"""Hostile checks of issue 14's fresh changes (cases 5, 6, 7), with real rclone: words of a
cause ("connection refused", "certificate") in a file name or a workspace path are not a
transport failure that ends the cycle."""

from __future__ import annotations

import os
from pathlib import Path

import tomllib

from tests.conftest import run_cli, tree, wait_until, write_config
from tests.integration.helpers import backups, ok, sync, write


def _mailbox(tmp_path: Path, workspace: Path) -> tuple[Path, Path]:
    """A mailbox config on provider local; returns (config, cloud root)."""
    workspace.mkdir(parents=True)
    config = write_config(
        tmp_path / "sync.toml",
        {
            "workspace": str(workspace),
            "mode": "mailbox",
            "provider": "local",
            "local": {"path": str(tmp_path / "cloud")},
            "remote_path": "share",
            "local_path": "shared",
            "outbox_settle": 0,
        },
    )
    return config, tmp_path / "cloud" / "share"


def test_cause_words_in_names_and_paths_do_not_end_the_cycle(tmp_path: Path):
    """A push that fails on a file named "connection refused.txt", and a push refused in a
    workspace under "certificates/": neither reached for the network, so the drain still runs
    and the message names no network cause. (Old code: "drain: not run: push could not reach
    the remote: connection refused …" / "… TLS/certificate error …", the inbound file waited.)"""
    config, cloud = _mailbox(tmp_path, tmp_path / "certificates" / "ws")
    sync_root = tmp_path / "certificates" / "ws" / "shared"
    sync_root.mkdir()
    (sync_root / "connection refused.txt").write_text("mine")
    (sync_root / "ok.txt").write_text("ok")
    # The remote holds a folder of that name with only an excluded file in it: rclone fails
    # on that one file (a per-file error naming it), not on the remote.
    (cloud / "connection refused.txt").mkdir(parents=True)
    (cloud / "connection refused.txt" / ".DS_Store").write_text("x")
    (cloud / "_outbox").mkdir()
    (cloud / "_outbox" / "in1.txt").write_text("one")
    result = run_cli("sync", config=config)
    assert result.exit_code == 1, result.output
    assert tree(sync_root / "_inbox") == {"in1.txt": b"one"}, result.output + result.stderr
    assert "not run" not in result.stderr and "is the server running" not in result.stderr
    assert tree(cloud).get("ok.txt") == b"ok"

    # Empty source over a full remote: the push is refused (no network cause); the drain runs.
    for path in sync_root.iterdir():
        if path.is_file():
            path.unlink()
    (cloud / "_outbox" / "in2.txt").write_text("two")
    result = run_cli("sync", config=config)
    assert result.exit_code == 1, result.output
    assert "push refused" in result.stderr, result.stderr
    assert tree(sync_root / "_inbox").get("in2.txt") == b"two", result.stderr
    assert "not run" not in result.stderr and "TLS" not in result.stderr, result.stderr


def test_mirror_pull_type_change_keeps_local_edits_in_the_backups(make_setup):
    """Mirror pull over a local file ↔ folder change: the remote made ``notes`` a folder while
    the user wrote a local file ``notes``, and the remote made ``draft`` a file while the user
    has a local folder ``draft/`` with a file of their own. The pull takes the remote's shape,
    but what it removes locally lands in the mirror backups like any other local edit. (Old
    code: the type-change clean-up deleted both with a plain ``rclone delete``, no backup.)"""
    setup = make_setup("mirror")
    write(setup.cloud, "notes/a.md", "remote a")
    write(setup.cloud, "draft", "remote draft file")
    write(setup.cloud, "keep.txt", "keep")
    write(setup.sync_root, "notes", "my local notes file")
    write(setup.sync_root, "draft/mine.txt", "my own draft")
    write(setup.sync_root, "keep.txt", "keep")
    ok(sync(setup))
    assert tree(setup.sync_root) == {
        "notes/a.md": b"remote a",
        "draft": b"remote draft file",
        "keep.txt": b"keep",
    }
    assert backups(setup) == {"notes": b"my local notes file", "draft/mine.txt": b"my own draft"}


def test_symlink_to_fifo_with_copy_symlinks_never_blocks_a_push(
    make_setup, start_watch, monkeypatch
):
    """With ``copy_symlinks``, a symlink to a FIFO is a FIFO for rclone: listed in an
    incremental push it opened the FIFO and hung until ``timeout`` (old code: ``new.txt``
    arrived only after the 20 s timeout). Then the FIFO is replaced by a regular file of the
    same name: that file is pushed like any other (the link follows on the next full cycle:
    its target's change is no event of the link's)."""
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")
    setup = make_setup("mailbox", debounce=0.2, max_delay=1.0, timeout=20, copy_symlinks=True)
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "keep.txt").write_text("keep")
    watcher = start_watch(setup.config)
    wait_until(lambda: "keep.txt" in tree(setup.cloud), timeout=10)

    os.mkfifo(setup.sync_root / "p.fifo")
    (setup.sync_root / "link").symlink_to("p.fifo")
    (setup.sync_root / "new.txt").write_text("new")
    wait_until(lambda: tree(setup.cloud).get("new.txt") == b"new", timeout=10)

    (setup.sync_root / "p.fifo").unlink()
    (setup.sync_root / "p.fifo").write_text("now a file")
    wait_until(lambda: tree(setup.cloud).get("p.fifo") == b"now a file", timeout=10)
    log = watcher.text()
    assert "timed out" not in log and "push failed" not in log, log
    assert watcher.alive()


def test_first_backup_into_a_folder_holding_other_files(make_setup):
    """The backup folder already holds files that are no snapshots (a desktop client's
    ``.DS_Store``, a README): the first snapshot under the right password is taken, and a
    wrong password is still told apart once a snapshot exists. (Old code: "2 snapshot objects
    … cannot be decrypted with this password", exit 1: no backup ever started.)"""
    password = "first backup password 9"
    setup = make_setup("mailbox", backup={"enabled": True, "password": password, "interval": 0})
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    folder = setup.cloud.parent / "openclaw-backup"
    write(folder, ".DS_Store", "finder")
    write(folder, "README.txt", "encrypted backups of the agent")
    taken = run_cli("backup", config=setup.config)
    assert taken.exit_code == 0, taken.output
    listed = run_cli("backup", "list", config=setup.config)
    assert listed.exit_code == 0 and "1 snapshot" in listed.output, listed.output

    wrong = {"enabled": True, "password": "not " + password, "interval": 0}
    write_config(setup.config, {**tomllib.loads(setup.config.read_text()), "backup": wrong})
    listed = run_cli("backup", "list", config=setup.config)
    assert listed.exit_code == 1 and "cannot be decrypted" in listed.output, listed.output
    assert "2 snapshot objects" in listed.output  # the snapshot and its manifest only


def test_folder_to_file_over_a_remote_folder_with_excluded_files(make_setup):
    """Folder ``notes/`` became a file locally, and the remote folder also holds an excluded
    ``.DS_Store`` (a desktop client's): the push either places the file or says which
    excluded file is in the way; it must not fail every run on rclone's rename error."""
    setup = make_setup("mailbox")
    write(setup.sync_root, "notes/a.md", "a")
    ok(sync(setup))
    write(setup.cloud, "notes/.DS_Store", "finder")
    (setup.sync_root / "notes/a.md").unlink()
    (setup.sync_root / "notes").rmdir()
    write(setup.sync_root, "notes", "now a file")
    for _ in range(2):
        result = sync(setup)
        assert result.exit_code == 0 or "notes/.DS_Store" in result.output, result.output
