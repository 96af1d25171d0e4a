"""Durability of the mailbox drain and of the state folder ("nothing lost", power loss and full
disks): landed inbox files are fsynced before the remote outbox copies are deleted; a workspace
or a state folder on a full file system (a small tmpfs) fails the run with one line and loses
nothing; the next run after space is freed completes. Real rclone, no mocks of it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from tests.conftest import Setup, cli_subprocess, fill_disk, tree
from tests.integration.fault_helpers import file_count
from tests.integration.helpers import CLAIMS, outbox_tree, paths_of, write_all
from watcher.config import load_config
from watcher.engine import open_session, run_cycle

STAGING = "_inbox/.workspace-sync-incoming"


def _sync(setup: Setup, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """``workspace-sync sync`` as a real process (so that a traceback would show on stderr)."""
    proc = cli_subprocess("sync", config=setup.config)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _outbox_files(count: int, size: int, folders: int = 20) -> dict[str, bytes]:
    """``count`` files of distinct contents (``size`` bytes or a little more) in ``folders``."""
    return {
        f"d{i % folders:02d}/in{i:04d}.txt": (f"inbound {i}\n".encode() * (size // 10 + 1))[
            : size + i % 7
        ]
        for i in range(count)
    }


# ------------------------------------------------------------------ power loss: fsync ordering


@dataclass
class FsyncLog:
    """What every ``os.fsync`` of a drain saw at the moment it was called."""

    outbox: Path
    journal: Path
    by_content: dict[bytes, str]
    #: outbox path of a landed file -> (its inode, remote copy still there, journal "landed"s)
    files: dict[str, tuple[tuple[int, int], bool, int]] = field(default_factory=dict)
    #: folder inode -> (files in the remote outbox, journal "landed"s)
    folders: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def landed_in_journal(self) -> int:
        try:
            return self.journal.read_bytes().count(b'"landed": true')
        except FileNotFoundError:
            return 0

    def wrap(self, real: Callable[[int], None]) -> Callable[[int], None]:
        """``os.fsync`` that records, then calls through."""

        def fsync(fd: int) -> None:  # called from the drain's fsync threads
            info = os.fstat(fd)
            inode = (info.st_dev, info.st_ino)
            rel = None
            if stat.S_ISDIR(info.st_mode):
                seen = (file_count(self.outbox), self.landed_in_journal())
                with self.lock:
                    self.folders[inode] = seen
            else:
                rel = self._outbox_path(fd, info.st_size)
                if rel is not None:
                    there = (self.outbox / rel).is_file() or any(
                        (claim / rel).is_file() for claim in (self.outbox / CLAIMS).glob("*")
                    )
                    with self.lock:
                        self.files[rel] = (inode, there, self.landed_in_journal())
            real(fd)

        return fsync

    def _outbox_path(self, fd: int, size: int) -> str | None:
        try:  # state files are fsynced through write-only descriptors: not inbound files
            return self.by_content.get(os.pread(fd, size + 1, 0))
        except OSError:
            return None


def _inode(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


@pytest.mark.timeout(90)
def test_drain_fsyncs_landed_files_before_remote_delete(make_setup, monkeypatch, capsys) -> None:
    """A real drain of 1,000 files in 20 folders with ``os.fsync`` recording (and calling
    through): every landed file (its inode, its content) and every folder it was linked into
    was fsynced while its remote copy still existed and before the journal called it landed;
    afterwards the outbox is empty, so the delete came after the fsyncs."""
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    outbox, inbox = setup.cloud / "_outbox", setup.sync_root / "_inbox"
    sent = _outbox_files(1000, 100)
    write_all(outbox, sent)
    journal = paths_of(setup).drain_journal
    log = FsyncLog(outbox, journal, {data: rel for rel, data in sent.items()})
    monkeypatch.setattr(os, "fsync", log.wrap(os.fsync))
    started = time.monotonic()

    async def drain() -> None:
        session = await open_session(load_config(setup.config))
        report = await run_cycle(session, only={"drain"})
        assert report.ok, report.records

    anyio.run(drain)
    seconds = time.monotonic() - started
    assert tree(inbox) == sent
    assert file_count(outbox) == 0
    assert sorted(log.files) == sorted(sent), "landed files not fsynced"
    for rel, (inode, remote_there, journal_landed) in log.files.items():
        assert inode == _inode(inbox / rel), rel
        assert remote_there, f"{rel} fsynced after its remote copy was deleted"
        assert journal_landed == 0, f"{rel} fsynced after the journal called files landed"
    folders = [inbox, setup.sync_root, *(p for p in inbox.iterdir() if p.is_dir())]
    for folder in folders:
        assert _inode(folder) in log.folders, f"folder {folder} not fsynced"
        assert log.folders[_inode(folder)] == (1000, 0), folder
    with capsys.disabled():
        print(
            f"\ndrain of 1,000 files with fsync recorded ({len(log.files)} landed files, "
            f"{len(log.folders)} folders): {seconds:.2f} s"
        )


# ------------------------------------------------------------------------------- full disks


def _assert_one_line_failure(done: subprocess.CompletedProcess[str]) -> None:
    """Exit 1 with error lines, no traceback."""
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output, output
    assert "no space left on device" in output.lower() or "remaining disk space" in output, output


@pytest.mark.timeout(120)
def test_drain_into_full_workspace_loses_nothing(make_setup, mount_tmpfs, tmp_path) -> None:
    """The workspace is an 8 MB tmpfs with 2.5 MB free and the outbox holds 4 MB: the drain
    fails (exit 1, its FAILED line names the full disk, no traceback); every outbox file is either
    still in the outbox or in _inbox with its exact content (only landed files were deleted,
    nothing half-written in _inbox). After the filler is removed the next ``sync`` delivers
    every file exactly once."""
    mount_tmpfs(tmp_path / "ws", 8)
    setup = make_setup("mailbox")
    write_all(setup.sync_root, {"notes.md": b"agent notes"})
    assert _sync(setup).returncode == 0
    filler = setup.workspace / "filler.bin"
    filler.write_bytes(b"\0" * (5 * 1024 * 1024 + 512 * 1024))
    sent = {
        **_outbox_files(40, 2000, folders=4),
        **{f"big/blob{i}.bin": os.urandom(1024 * 256) for i in range(15)},
    }
    write_all(setup.cloud / "_outbox", sent)
    outbox, inbox = setup.cloud / "_outbox", setup.sync_root / "_inbox"
    done = _sync(setup)
    _assert_one_line_failure(done)
    assert "drain" in done.stderr, done.stderr
    left, delivered = outbox_tree(outbox), {k: v for k, v in tree(inbox).items() if not _staged(k)}
    assert left, "everything fit: the disk was not full"
    assert set(left) | set(delivered) == set(sent)
    assert all(sent[rel] == data for rel, data in left.items())
    assert all(sent[rel] == data for rel, data in delivered.items()), "half-written inbox file"
    filler.unlink()
    done = _sync(setup)
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree(inbox) == sent
    assert file_count(outbox) == 0
    assert not (setup.sync_root / STAGING).exists()
    print(f"full workspace: {len(delivered)} of {len(sent)} landed before space ran out")


@pytest.mark.timeout(120)
def test_drain_into_read_only_workspace_loses_nothing(make_setup, mount_tmpfs, tmp_path) -> None:
    """Permission denied on the destination side: the workspace's file system is remounted
    read-only (as root, mode bits would not stop the test): the drain fails with one line and
    no traceback, every outbox file stays in the outbox; remounted read-write, the next ``sync``
    delivers each exactly once."""
    ws = mount_tmpfs(tmp_path / "ws", 8)
    setup = make_setup("mailbox")
    write_all(setup.sync_root, {"notes.md": b"agent notes"})
    assert _sync(setup).returncode == 0
    sent = _outbox_files(30, 1000, folders=3)
    write_all(setup.cloud / "_outbox", sent)
    remount = ["mount", "-o", "remount,ro", str(ws)]
    subprocess.run(remount, check=True, capture_output=True, timeout=30)
    try:
        done = _sync(setup)
    finally:
        remount[2] = "remount,rw"
        subprocess.run(remount, check=True, capture_output=True, timeout=30)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output, output
    assert "read-only file system" in output.lower(), output
    print(f"read-only workspace: {done.stderr.strip()}")
    assert outbox_tree(setup.cloud / "_outbox") == sent
    assert not tree(setup.sync_root / "_inbox")
    done = _sync(setup)
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree(setup.sync_root / "_inbox") == sent
    assert file_count(setup.cloud / "_outbox") == 0


def _staged(rel: str) -> bool:
    return rel.startswith(STAGING.removeprefix("_inbox/") + "/")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("free", [0, 4096], ids=["full", "one-page-free"])
def test_full_state_folder_fails_cleanly_keeps_state(
    make_setup, mount_tmpfs, tmp_path, monkeypatch, free: int
) -> None:
    """The state folder (``XDG_STATE_HOME``, with last-runs.json and the drain journal) is on a
    tmpfs filled to the last byte or to one free page: ``sync`` exits 1 with one line (no
    traceback) or succeeds; no state file is truncated or left half-written (every JSON state
    file parses), nothing is lost; after the filler is
    removed the next ``sync`` delivers the inbound file and pushes the new local file."""
    state_home = mount_tmpfs(tmp_path / "state-fs", 8)
    monkeypatch.setenv("XDG_STATE_HOME", str(state_home))
    setup = make_setup("mailbox")
    write_all(setup.sync_root, {"notes.md": b"agent notes"})
    assert _sync(setup).returncode == 0
    state = paths_of(setup)
    before = state.last_runs.read_bytes()
    filler = fill_disk(state_home, leave=free)
    write_all(setup.sync_root, {"new.md": b"written while the state disk is full"})
    write_all(setup.cloud / "_outbox", {"inbound.txt": b"for the agent"})
    done = _sync(setup)
    print(f"state folder full ({free} bytes free): sync exit {done.returncode}: {done.stderr}")
    if done.returncode != 0:
        _assert_one_line_failure(done)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    after = state.last_runs.read_bytes()
    assert after == before or json.loads(after)["push"]["ok"]
    assert not list(state.root.rglob("*.tmp")), "temp files left in the state folder"
    for kept in state.root.glob("*.json"):
        json.loads(kept.read_bytes())  # old or new, never half of one
    inbound = tree(setup.cloud / "_outbox") or tree(setup.sync_root / "_inbox")
    assert inbound == {"inbound.txt": b"for the agent"}
    filler.unlink()
    done = _sync(setup)
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree(setup.sync_root / "_inbox") == {"inbound.txt": b"for the agent"}
    assert file_count(setup.cloud / "_outbox") == 0
    assert tree(setup.cloud)["new.md"] == b"written while the state disk is full"
    runs = json.loads(state.last_runs.read_bytes())
    assert runs["drain"]["ok"] and runs["push"]["ok"]
