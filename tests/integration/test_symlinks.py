"""Symlinks: skipped (never followed out of the workspace) by default; with copy_symlinks they
are followed, but a loop or a link to / refuses the run before rclone starts."""

from __future__ import annotations

import os

from tests.conftest import run_cli, tree
from watcher.engine.links import dangerous_links


def _outside(setup):
    outside = setup.root / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "secret.txt").write_text("not for the cloud")
    (outside / "deep" / "d.txt").write_text("d")
    return outside


def test_links_are_skipped_by_default(make_setup):
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "own.txt").write_text("own")
    outside = _outside(setup)
    os.symlink(outside, setup.sync_root / "linked-dir")
    os.symlink(outside / "secret.txt", setup.sync_root / "linked-file.txt")
    os.symlink("/", setup.sync_root / "root")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 0, result.output
    remote = tree(setup.cloud)
    assert remote["own.txt"] == b"own"
    assert not [p for p in remote if p.startswith(("linked", "root"))]


def test_copy_symlinks_follows_links(make_setup):
    setup = make_setup("mailbox", copy_symlinks=True)
    setup.sync_root.mkdir(parents=True)
    outside = _outside(setup)
    os.symlink(outside, setup.sync_root / "linked-dir")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 0, result.output
    assert tree(setup.cloud)["linked-dir/deep/d.txt"] == b"d"


def test_copy_symlinks_refuses_a_link_to_root(make_setup):
    setup = make_setup("mailbox", copy_symlinks=True)
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    os.symlink("/", setup.sync_root / "everything")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1
    assert "everything -> /" in result.output and "copy_symlinks" in result.output
    assert not setup.cloud.exists() or not tree(setup.cloud)


def test_copy_symlinks_refuses_a_loop(make_setup):
    setup = make_setup("mailbox", copy_symlinks=True)
    (setup.sync_root / "sub").mkdir(parents=True)
    os.symlink("..", setup.sync_root / "sub" / "up")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1
    assert "sub/up" in result.output and "loop" in result.output


def test_dangerous_links_details(tmp_path):
    root = tmp_path / "ws"
    (root / "a").mkdir(parents=True)
    other = tmp_path / "other"
    other.mkdir()
    os.symlink(other, root / "ok1")
    os.symlink(other, root / "ok2")  # the same folder twice is no loop
    os.symlink(other, other / "back")  # but a folder that links to itself is
    os.symlink("self", root / "self")
    os.symlink(tmp_path / "missing", root / "broken")
    problems = dangerous_links(root)
    assert any(p.startswith("self -> self") for p in problems)
    assert any("back" in p and "loop" in p for p in problems)
    assert not any(p.startswith(("ok1 ", "ok2 ", "broken")) for p in problems)
    assert len(problems) == 2
