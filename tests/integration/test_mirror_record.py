"""mirror's record of "what the last pull wrote", tried as a hostile user would (issue 13, cases
1 and 2), with real rclone: a pull that fails mid-transfer (a stalling proxy in front of
``rclone serve s3``) adds nothing to the record, so the next good pull keeps the local-only file
and the local edit in the mirror backups; files created or edited while a slowed pull runs count
as local edits; an old or damaged manifest never marks an edit pristine; the summary counts the
deletes that ``--backup-dir`` turns into moves, also when the backups live on another file
system."""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
import tomllib

from tests.conftest import (
    S3Server,
    Setup,
    cli_subprocess,
    rclone_processes,
    tree,
    wait_until,
    write_config,
)
from tests.integration.fault_helpers import s3_backend
from tests.integration.helpers import Backend, backups, big_blob, ok, paths_of, sync, write
from tests.proxy import StallingProxy
from tests.servers import DavServer

REMOTE = {f"r{i}.txt": f"remote r{i} v1\n".encode() for i in range(1, 10)}
EDIT = b"my local edit of r9, not in the cloud\n"
NOTES = b"local-only notes\n"


def set_timeout(setup: Setup, seconds: int) -> None:
    """Rewrite the config's ``timeout``."""
    write_config(setup.config, {**tomllib.loads(setup.config.read_text()), "timeout": seconds})


def test_failed_pull_then_good_pull_keeps_local_edits(
    make_setup: Callable[..., Setup],
    s3_server: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """13-1a: a pull over S3 that stalls in the middle of ``big.bin`` and times out (exit 1)
    must not record the local-only ``notes.txt`` and the edited ``r9.txt`` as written by a
    pull: the next good pull keeps both in the mirror backups with their bytes, drops the
    untouched ``r1.txt`` it overwrote, and its summary counts the delete."""
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")
    # One transfer at a time, the biggest first: the stall hits big.bin before any small file.
    monkeypatch.setenv("RCLONE_TRANSFERS", "1")
    monkeypatch.setenv("RCLONE_CHECK_FIRST", "true")
    monkeypatch.setenv("RCLONE_ORDER_BY", "size,descending")
    with StallingProxy(int(s3_server.endpoint.rsplit(":", 1)[1])) as proxy:
        peer = s3_backend(make_setup, s3_server, tmp_path)  # the other client: no proxy
        backend = dataclasses.replace(peer, s3=dataclasses.replace(s3_server, endpoint=proxy.url))
        setup = backend.setup("mirror", timeout=60)
        backend.put(setup, REMOTE)
        ok(sync(setup))
        assert tree(setup.sync_root) == REMOTE
        big = big_blob()[: 8 * 1024 * 1024]
        backend.put(setup, {"big.bin": big, "r1.txt": b"remote r1 v2\n"})
        write(setup.sync_root, "r9.txt", EDIT)
        write(setup.sync_root, "notes.txt", NOTES)

        proxy.stall_after(256 * 1024)
        set_timeout(setup, 4)  # only for this pull: the good ones may be slow on a busy machine
        failed = sync(setup)
        assert failed.exit_code == 1, failed.output
        assert "timed out" in failed.output
        # rclone moves a file it will replace into the backup when it checks it, so the edit
        # may already be there; nothing is lost at any point.
        for rel, data in (("r9.txt", EDIT), ("notes.txt", NOTES)):
            assert data in (tree(setup.sync_root).get(rel), backups(setup).get(rel)), rel

        proxy.unstall()
        set_timeout(setup, 60)
        good = ok(sync(setup))

    expected = {**REMOTE, "big.bin": big, "r1.txt": b"remote r1 v2\n"}
    assert tree(setup.sync_root) == expected
    assert backups(setup) == {"r9.txt": EDIT, "notes.txt": NOTES}
    assert "copied 3, deleted 1" in good.output, good.output


def test_files_created_or_edited_during_a_pull_are_kept(
    make_setup: Callable[..., Setup], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """13-2a: while a pull slowed to 4 MB/s copies a 20 MB file, a new file appears and a small
    file that pull already wrote is edited; the pull itself leaves both alone, and the next
    pull (which must delete the one and overwrite the other) keeps both in the backups."""
    monkeypatch.setenv("RCLONE_BWLIMIT", "4M")
    backend = Backend("local", None, make_setup, tmp_path)
    setup = backend.setup("mirror")
    small = {f"s{i}.txt": f"remote s{i} v1\n".encode() for i in range(1, 4)}
    backend.put(setup, {**small, "big.bin": big_blob()})
    edited, created = b"LOCAL edit of s1 made during the pull\n", b"created during the pull\n"
    s1, remote_s1 = setup.sync_root / "s1.txt", setup.cloud / "s1.txt"

    def pulled() -> bool:  # written, renamed into place and its mtime set by rclone
        try:
            return s1.read_bytes() == small["s1.txt"] and (
                s1.stat().st_mtime_ns == remote_s1.stat().st_mtime_ns
            )
        except FileNotFoundError:
            return False

    proc = cli_subprocess("sync", config=setup.config)
    try:
        wait_until(pulled, timeout=30)
        assert proc.poll() is None, "the pull ended before the edit: not slowed down"
        write(setup.sync_root, "s1.txt", edited)
        write(setup.sync_root, "new.txt", created)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    local = tree(setup.sync_root)
    assert (local["s1.txt"], local["new.txt"]) == (edited, created)

    backend.put(setup, {"s1.txt": b"remote s1 v2\n", "s2.txt": b"remote s2 v2\n"})
    monkeypatch.delenv("RCLONE_BWLIMIT")
    result = ok(sync(setup))

    assert tree(setup.sync_root) == tree(setup.cloud)
    assert backups(setup) == {"s1.txt": edited, "new.txt": created}
    assert "copied 2, deleted 1" in result.output, result.output


@pytest.mark.parametrize("manifest", ["old-format", "not-a-dict", "garbage"])
def test_old_or_damaged_manifest_never_marks_edits_pristine(
    make_setup: Callable[..., Setup], tmp_path: Path, manifest: str
) -> None:
    """13-1b: a manifest of the old ``{path: [size, mtime]}`` form (written by a walk of the
    local disk, which may have listed local edits), one that is not an object, or one that is
    not JSON: the pull does not crash, and the local edit and local-only file are kept."""
    backend = Backend("local", None, make_setup, tmp_path)
    setup = backend.setup("mirror")
    backend.put(setup, REMOTE)
    ok(sync(setup))
    edit, notes = write(setup.sync_root, "r9.txt", EDIT), write(setup.sync_root, "notes.txt", NOTES)
    walk = {p.name: [p.stat().st_size, p.stat().st_mtime_ns / 1e9] for p in (edit, notes)}
    text = {
        "old-format": repr(walk).replace("'", '"'),
        "not-a-dict": "[1, 2, 3]",
        "garbage": '{"version": 2, "files": ',
    }[manifest]
    paths_of(setup).mirror_manifest.write_text(text, encoding="utf-8")
    backend.put(setup, {"r9.txt": b"remote r9 v2\n"})

    ok(sync(setup))

    assert backups(setup) == {"r9.txt": EDIT, "notes.txt": NOTES}
    assert tree(setup.sync_root) == tree(setup.cloud)


def test_summary_counts_deletes_with_backups_on_another_file_system(
    make_setup: Callable[..., Setup],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mount_tmpfs: Callable[[Path, int], Path],
) -> None:
    """13-1c: the state folder (and so ``mirror-backups/``) on a tmpfs, the workspace elsewhere:
    rclone backs files up by copy + delete instead of a rename; the summary still says what
    the pull did (1 copied, 1 deleted) and both local versions are kept."""
    state = mount_tmpfs(tmp_path / "state-fs", 16)
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    backend = Backend("local", None, make_setup, tmp_path)
    setup = backend.setup("mirror")
    assert os.stat(state).st_dev != os.stat(setup.sync_root).st_dev
    backend.put(setup, REMOTE)
    ok(sync(setup))
    write(setup.sync_root, "r9.txt", EDIT)
    write(setup.sync_root, "notes.txt", NOTES)

    result = ok(sync(setup))

    assert "copied 1, deleted 1" in result.output, result.output
    assert backups(setup) == {"r9.txt": EDIT, "notes.txt": NOTES}
    assert tree(setup.sync_root) == REMOTE


def test_remote_without_modtimes_keeps_every_backup(
    make_setup: Callable[..., Setup],
    dav: DavServer,
) -> None:
    """13-2b: on WebDAV without modtimes (wsgidav, ``vendor = other``): a same-size local edit
    (which rclone's size-only compare leaves alone) is kept once the remote changes the file;
    the untouched ``r1.txt`` it overwrites is not (15-4h: it has the listed time a pull gave
    it)."""
    custom = {"rclone_type": "webdav", "rclone_options": dav.rclone_options()}
    setup = make_setup("mirror", provider="custom", custom=custom)
    cloud = dav.root / "share"
    for rel, data in REMOTE.items():
        write(cloud, rel, data)
    ok(sync(setup))
    assert tree(setup.sync_root) == REMOTE
    same_size = b"REMOTE R9 V1\n\n\n"[: len(REMOTE["r9.txt"])]
    write(setup.sync_root, "r9.txt", same_size)
    ok(sync(setup))
    assert tree(setup.sync_root)["r9.txt"] == same_size  # size-only: rclone kept the edit
    write(cloud, "r9.txt", b"remote r9 v2, longer\n")
    write(cloud, "r1.txt", b"remote r1 v2, longer\n")

    result = ok(sync(setup))

    assert tree(setup.sync_root) == tree(cloud)
    assert backups(setup) == {"r9.txt": same_size}
    assert "copied 2, deleted 0" in result.output, result.output


def test_forced_pull_records_from_a_listing_after_the_run(
    make_setup: Callable[..., Setup], tmp_path: Path
) -> None:
    """13-1d: ``sync --force`` skips the guard (and its listing): the record then comes from a
    listing of the remote after the run, so the next pull still tells the untouched files it
    overwrites (dropped) from a local edit and a local-only file (kept)."""
    backend = Backend("local", None, make_setup, tmp_path)
    setup = backend.setup("mirror")
    backend.put(setup, REMOTE)
    ok(sync(setup, "--force"))
    manifest = paths_of(setup).mirror_manifest.read_text(encoding="utf-8")
    assert all(rel in manifest for rel in REMOTE)
    write(setup.sync_root, "r9.txt", EDIT)
    write(setup.sync_root, "notes.txt", NOTES)
    backend.put(setup, {"r1.txt": b"remote r1 v2\n", "r9.txt": b"remote r9 v2\n"})

    ok(sync(setup, "--force"))

    assert tree(setup.sync_root) == tree(setup.cloud)
    assert backups(setup) == {"r9.txt": EDIT, "notes.txt": NOTES}


def test_kill9_mid_pull_loses_nothing(
    make_setup: Callable[..., Setup], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """13-2c: ``sync`` (and its rclone) killed with SIGKILL halfway through a slowed pull, with
    a local edit and a local-only file: whatever that pull had moved into the backup stays
    there (it never got to judge it), the record is the previous good pull's, and the next pull
    keeps both local versions."""
    backend = Backend("local", None, make_setup, tmp_path)
    setup = backend.setup("mirror")
    backend.put(setup, REMOTE)
    ok(sync(setup))
    record_before = paths_of(setup).mirror_manifest.read_bytes()
    backend.put(setup, {"big.bin": big_blob(), "r9.txt": b"remote r9 v2\n"})
    write(setup.sync_root, "r9.txt", EDIT)
    write(setup.sync_root, "notes.txt", NOTES)
    monkeypatch.setenv("RCLONE_BWLIMIT", "4M")
    proc = cli_subprocess("sync", config=setup.config)
    wait_until(lambda: any(setup.sync_root.glob("big.bin*")), timeout=30)  # copy under way
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    assert not (setup.sync_root / "big.bin").exists(), "the kill came after the transfer"
    wait_until(lambda: not rclone_processes(setup.root), timeout=20)
    assert paths_of(setup).mirror_manifest.read_bytes() == record_before
    monkeypatch.delenv("RCLONE_BWLIMIT")

    ok(sync(setup))

    assert tree(setup.sync_root) == tree(setup.cloud)
    assert backups(setup) == {"r9.txt": EDIT, "notes.txt": NOTES}
