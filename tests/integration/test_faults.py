"""Fault injection ("nothing lost"): kill -9 of rclone and of the daemon, a storage server that
dies mid-transfer, vanished or unmounted sources, mass deletes, name collisions in the inbox,
files deleted or unreadable during a run, and seeded random soaks of both sides.

Every test compares file sets and contents of both sides, with real rclone (no mocks)."""

from __future__ import annotations

import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import anyio
import pytest

from tests.conftest import (
    RCLONE,
    S3Server,
    Setup,
    cli_subprocess,
    rclone_processes,
    run_cli,
    start_s3,
    tree,
    wait_until,
    write_config,
)
from tests.integration.fault_helpers import (
    WatchStarter,
    apply_local,
    assert_same,
    big_file,
    file_count,
    kill9,
    many_files,
    no_rclone_left,
    partials,
    random_ops,
    rclone_running,
    remove_many,
    s3_backend,
    soak_seed,
    synced_view,
)
from tests.integration.helpers import Backend, backend_fixture, ok, paths_of, write_all
from tests.nobody import NobodyRuntime, build_runtime
from watcher.config import load_config
from watcher.engine import last_runs, open_session, run_cycle

__all__ = ["backend_fixture"]  # fixtures used by this module

#: Files the default excludes keep out of every sync (must never reach the remote).
EXCLUDED = {".DS_Store": b"finder", "d00/.DS_Store": b"finder", "scratch.tmp": b"temp"}
STAGING = "_inbox/.workspace-sync-incoming"


def _kill_when(proc: subprocess.Popen[str], marker: Path, sub: str, ready: Callable[[], bool]):
    """SIGKILL the test's ``rclone SUB`` as soon as ``ready()`` holds while it runs; returns the
    killed pids (empty when the run finished first)."""

    def due() -> list[int] | bool:
        pids = rclone_running(marker, sub)
        if pids and ready():
            return pids
        return proc.poll() is not None

    found = wait_until(due, timeout=90, interval=0.003)
    return [] if found is True else (found if kill9(found) else [])


def _arrived(root: Path, files: dict[str, bytes]) -> bool:
    """``synced_view(tree(root)) == files``; a file count below ``len(files)`` (cheap: no
    reads) rules it out first, so a wait does not read the 60-120 MB big file twice a second
    while it is still being uploaded."""
    return file_count(root) >= len(files) and synced_view(tree(root)) == files


def _s3(make_setup: Callable[..., Setup], s3_server: S3Server, tmp_path: Path) -> Backend:
    return s3_backend(make_setup, s3_server, tmp_path)


# --------------------------------------------------------------------------- 1. kill -9 of rclone


@pytest.mark.timeout(180)
def test_kill9_rclone_mid_push_then_rerun(backend: Backend) -> None:
    """The push's rclone is SIGKILLed with part of 1,500 files (and a big one) sent: the run
    fails with exit 1, a rerun completes, remote == local minus excludes and mailbox folders."""
    setup = backend.setup("mailbox")
    files = many_files(setup.sync_root, 1500)
    files["big/huge.bin"] = big_file(setup.sync_root / "big/huge.bin", 120)
    write_all(setup.sync_root, EXCLUDED)
    write_all(setup.sync_root, {"_inbox/mine.txt": b"inbox stays local"})
    proc = cli_subprocess("sync", config=setup.config)
    killed = _kill_when(proc, setup.root, "sync", lambda: file_count(setup.cloud) >= 20)
    out, err = proc.communicate(timeout=60)
    assert killed, "the push finished before rclone could be killed"
    assert proc.returncode == 1, out + err
    no_rclone_left(setup.root)
    assert synced_view(tree(setup.cloud)) != files  # the fault hit mid-run
    ok(run_cli("sync", config=setup.config))
    assert_same(files, synced_view(tree(setup.cloud)))
    assert_same(synced_view(tree(setup.sync_root), EXCLUDED), synced_view(tree(setup.cloud)))
    assert tree(setup.sync_root)["_inbox/mine.txt"] == b"inbox stays local"
    print("remote .partial leftovers after the rerun:", partials(setup.cloud))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("phase", ["copy", "delete"])
def test_kill9_rclone_mid_drain_then_rerun(make_setup, s3_server, tmp_path, phase) -> None:
    """The drain's rclone (its copy into the inbox, or its delete from the outbox) is
    SIGKILLed; after a rerun every outbox file is in _inbox exactly once, the outbox is empty."""
    backend = _s3(make_setup, s3_server, tmp_path)
    setup = backend.setup("mailbox")
    ok(run_cli("sync", config=setup.config))
    sent = _outbox_drop(backend, setup)
    outbox = setup.cloud / "_outbox"
    inbox = setup.sync_root / "_inbox"
    ready = {
        "copy": lambda: any(p.is_file() for p in (setup.sync_root / STAGING).rglob("*")),
        "delete": lambda: file_count(outbox) < len(sent),
    }[phase]
    proc = cli_subprocess("sync", config=setup.config)
    killed = _kill_when(proc, setup.root, phase, ready)
    out, err = proc.communicate(timeout=60)
    assert killed, f"the drain finished before its {phase} could be killed"
    assert proc.returncode == 1, out + err
    no_rclone_left(setup.root)
    ok(run_cli("sync", config=setup.config))
    expected = {rel.removeprefix("_outbox/"): data for rel, data in sent.items()}
    assert_same(expected, tree(inbox))
    assert file_count(outbox) == 0
    assert not (setup.sync_root / STAGING).exists()


# --------------------------------------------------------------- 2. kill -9 of the whole daemon


@pytest.mark.timeout(200)
def test_kill9_daemon_mid_push_second_daemon_converges(
    make_setup, s3_server, tmp_path, start_watch: WatchStarter
) -> None:
    """kill -9 of the daemon's process group mid-push; a second ``watch`` completes the push."""
    setup = _s3(make_setup, s3_server, tmp_path).setup("mailbox", debounce=0.2, max_delay=2.0)
    first = start_watch(setup.config)
    files = many_files(setup.sync_root, 1500)
    files["big/huge.bin"] = big_file(setup.sync_root / "big/huge.bin", 60)
    wait_until(lambda: rclone_running(setup.root, "sync") and file_count(setup.cloud) >= 20, 60)
    first.kill9()
    no_rclone_left(setup.root)
    assert synced_view(tree(setup.cloud)) != files
    second = start_watch(setup.config)
    wait_until(lambda: _arrived(setup.cloud, files), timeout=120, interval=0.5)
    assert_same(files, synced_view(tree(setup.cloud)))
    assert second.alive(), second.text()


def _outbox_drop(backend: Backend, setup: Setup) -> dict[str, bytes]:
    """300 small files in three folders plus a 30 MB one, put into the remote ``_outbox``."""
    sent = {f"_outbox/d{i % 3}/f{i:03d}.bin": os.urandom(64) + bytes([i % 256]) for i in range(300)}
    sent["_outbox/big.bin"] = os.urandom(1024 * 1024) * 30
    backend.put(setup, sent)
    return sent


def _drained(setup: Setup, sent: dict[str, bytes]) -> bool:
    """Every file of ``sent`` is in _inbox exactly once with its content (and nothing else),
    the remote outbox is empty and the staging folder is gone."""
    return (
        file_count(setup.cloud / "_outbox") == 0
        and not (setup.sync_root / STAGING).exists()
        and tree(setup.sync_root / "_inbox")
        == {rel.removeprefix("_outbox/"): data for rel, data in sent.items()}
    )


@pytest.mark.timeout(180)
@pytest.mark.parametrize("phase", ["copy", "delete"])
def test_kill9_daemon_mid_drain_second_daemon_converges(
    make_setup, s3_server, tmp_path, start_watch: WatchStarter, phase: str, capsys
) -> None:
    """kill -9 of the daemon's process group during its start-up drain, while rclone copies
    the outbox into staging or deletes it from the outbox; a second ``watch`` delivers every
    file to _inbox exactly once, empties the outbox, removes staging; no rclone is left."""
    backend = _s3(make_setup, s3_server, tmp_path)
    setup = backend.setup("mailbox", debounce=0.2, max_delay=2.0)
    ok(run_cli("sync", config=setup.config))
    sent = _outbox_drop(backend, setup)
    ready = {
        "copy": lambda: any(p.is_file() for p in (setup.sync_root / STAGING).rglob("*")),
        "delete": lambda: file_count(setup.cloud / "_outbox") < len(sent),
    }[phase]
    first = start_watch(setup.config, ready="")
    wait_until(
        lambda: (rclone_running(setup.root, phase) and ready()) or not first.alive(),
        timeout=90,
        interval=0.003,
    )
    first.kill9()
    assert first.proc.returncode == -signal.SIGKILL, first.text()
    assert "drain:" not in first.text(), f"the drain finished before its {phase} was killed"
    no_rclone_left(setup.root)
    at_kill = (file_count(setup.cloud / "_outbox"), file_count(setup.sync_root / STAGING))
    assert not _drained(setup, sent)  # the fault hit mid-drain
    second = start_watch(setup.config, ready="")
    wait_until(lambda: _drained(setup, sent), timeout=120, interval=0.5)
    assert second.alive(), second.text()
    assert second.stop() == 0
    no_rclone_left(setup.root)
    assert _drained(setup, sent)
    with capsys.disabled():
        print(f"\ndaemon killed mid-drain {phase}: outbox {at_kill[0]}, staging {at_kill[1]} files")


def _bisync_same(setup: Setup) -> bool:
    return synced_view(tree(setup.sync_root), EXCLUDED) == synced_view(tree(setup.cloud))


@pytest.mark.timeout(220)
def test_kill9_daemon_mid_bisync_second_daemon(
    make_setup, start_watch: WatchStarter, capsys
) -> None:
    """kill -9 of the daemon mid-bisync (local-folder remote) leaves rclone's lock file; a second
    ``watch`` (``--max-lock 15m --recover``) either converges or tells the user what to run."""
    setup = make_setup("bisync", debounce=0.2, max_delay=2.0, exclude=["**/.DS_Store", "*.tmp"])
    setup.sync_root.mkdir(parents=True)
    setup.cloud.mkdir(parents=True)
    before = many_files(setup.sync_root, 50, folders=5)
    ok(run_cli("sync", "--resync", config=setup.config))
    first = start_watch(setup.config, ready="bisync:")
    added = many_files(setup.sync_root / "new", 1500)
    files = {**before, **{f"new/{k}": v for k, v in added.items()}}
    files["big/huge.bin"] = big_file(setup.sync_root / "big/huge.bin", 150)
    wait_until(lambda: rclone_running(setup.root, "bisync") and file_count(setup.cloud) > 70, 60)
    first.kill9()
    no_rclone_left(setup.root)
    workdir = paths_of(setup).bisync_workdir
    locks = sorted(p.name for p in workdir.glob("*.lck"))
    second = start_watch(setup.config, ready="")
    outcome = wait_until(
        lambda: (
            ("converged" if "bisync:" in second.text() and _bisync_same(setup) else "")
            or ("blocked" if "blocked" in second.text() else "")
        ),
        timeout=150,
        interval=0.5,
    )
    with capsys.disabled():
        print(f"\nbisync after kill -9: locks left {locks}; second daemon {outcome}")
    if outcome == "blocked":
        assert "workspace-sync sync --" in second.text(), second.text()
        assert_same(before, {k: v for k, v in tree(setup.sync_root).items() if k in before})
        return
    assert_same(files, synced_view(tree(setup.cloud)))
    assert_same(files, synced_view(tree(setup.sync_root), EXCLUDED))
    assert not list(workdir.glob("*.lck")) or second.alive()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("direction", ["to-remote", "to-local"])
def test_kill9_rclone_mid_bisync_then_rerun(make_setup, direction: str, capsys) -> None:
    """The bisync's rclone is SIGKILLed while it copies 1,500 new files and a big one (made on
    the local side, or on the remote side): the run exits 1; reruns of ``sync`` (and the
    ``--resync`` a rerun may ask for) end with both sides holding every file, old and new."""
    setup = make_setup("bisync", exclude=["**/.DS_Store", "*.tmp"])
    setup.sync_root.mkdir(parents=True)
    setup.cloud.mkdir(parents=True)
    before = many_files(setup.sync_root, 50, folders=5)
    ok(run_cli("sync", "--resync", config=setup.config))
    source, dest = (
        (setup.sync_root, setup.cloud)
        if direction == "to-remote"
        else (setup.cloud, setup.sync_root)
    )
    added = {f"new/{k}": v for k, v in many_files(source / "new", 1500).items()}
    added["big/huge.bin"] = big_file(source / "big/huge.bin", 120)
    files = {**before, **added}
    proc = cli_subprocess("sync", config=setup.config)
    killed = _kill_when(proc, setup.root, "bisync", lambda: file_count(dest) > 70)
    out, err = proc.communicate(timeout=60)
    assert killed, "the bisync finished before its rclone could be killed"
    assert proc.returncode == 1, out + err
    no_rclone_left(setup.root)
    assert synced_view(tree(dest), EXCLUDED) != files  # the fault hit mid-run
    steps = []
    for _ in range(3):
        rerun = run_cli("sync", config=setup.config)
        steps.append(rerun.exit_code)
        if rerun.exit_code == 0:
            break
        if "--resync" in rerun.output:
            ok(run_cli("sync", "--resync", config=setup.config))
            steps.append("resync")
            break
    with capsys.disabled():
        print(f"\nbisync {direction} after rclone kill -9: reruns {steps}")
    assert_same(files, synced_view(tree(setup.sync_root), EXCLUDED))
    assert_same(files, synced_view(tree(setup.cloud)))


# ------------------------------------------------------- 3. storage server dies mid-transfer


@pytest.mark.timeout(220)
def test_s3_server_dies_mid_transfer_daemon_recovers(
    make_setup, s3_server, tmp_path, start_watch: WatchStarter
) -> None:
    """``rclone serve s3`` is stopped during a large push and restarted later: the daemon
    retries with backoff on its own and every file arrives."""
    setup = _s3(make_setup, s3_server, tmp_path).setup("mailbox", debounce=0.2, max_delay=2.0)
    watcher = start_watch(setup.config)
    files = many_files(setup.sync_root, 1000)
    files["big/huge.bin"] = big_file(setup.sync_root / "big/huge.bin", 100)
    wait_until(lambda: rclone_running(setup.root, "sync") and file_count(setup.cloud) >= 20, 60)
    port = int(s3_server.endpoint.rsplit(":", 1)[1])
    s3_server.stop()
    # The outage hits the run: rclone reports failed uploads (and may keep retrying them
    # itself) or the run fails and the daemon schedules a retry.
    wait_until(
        lambda: "Failed to copy" in watcher.text() or "retrying in" in watcher.text(),
        timeout=120,
        interval=0.2,
    )
    assert synced_view(tree(setup.cloud)) != files
    restarted = start_s3(s3_server.root, tmp_path / "s3scratch2", port=port)
    try:
        wait_until(lambda: _arrived(setup.cloud, files), timeout=150, interval=0.5)
        assert watcher.alive(), watcher.text()
        how = "daemon retry" if "retrying in" in watcher.text() else "rclone's own retries"
        print(f"server outage mid-transfer recovered by {how}")
    finally:
        restarted.stop()


# ----------------------------------------------- 4. empty, missing and unmounted-looking sources


def _mailbox_with_remote(backend: Backend) -> tuple[Setup, dict[str, bytes]]:
    """A mailbox whose first push put 12 files on the remote, plus one file in its outbox."""
    setup = backend.setup("mailbox")
    many_files(setup.sync_root, 12, folders=3)
    ok(run_cli("sync", config=setup.config))
    backend.put(setup, {"_outbox/inbound.txt": b"for the agent"})
    return setup, tree(setup.cloud)


@pytest.mark.parametrize("source", ["empty", "missing", "unmounted"])
def test_push_from_vanished_source_refused(backend: Backend, source: str) -> None:
    """Sync root emptied, sync root removed, or the workspace an empty folder (a mount point
    without its filesystem): exit 1, nothing deleted, nothing drained into the void."""
    setup, remote = _mailbox_with_remote(backend)
    if source == "empty":
        for child in setup.sync_root.iterdir():
            if child.name != "_inbox":
                shutil.rmtree(child)
    elif source == "missing":  # the workspace holds other files, only the sync root is gone
        shutil.rmtree(setup.sync_root)
        (setup.workspace / "AGENTS.md").write_text("agent notes")
    else:
        shutil.rmtree(setup.workspace)
        setup.workspace.mkdir()
    local = tree(setup.workspace)
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1, result.output
    assert "refused" in result.output or "unmounted" in result.output, result.output
    assert "workspace-sync sync --force" in result.output
    if source == "unmounted":  # nothing written into the mount point, nothing drained into it
        assert tree(setup.cloud) == remote
        assert tree(setup.workspace) == local == {}
        return
    # A real (mounted) workspace: the push is refused, the inbound file is delivered once.
    inbound = remote.pop("_outbox/inbound.txt")
    assert tree(setup.cloud) == remote
    assert tree(setup.sync_root / "_inbox") == {"inbound.txt": inbound}
    assert {k: v for k, v in tree(setup.workspace).items() if "/_inbox/" not in k} == local


@pytest.mark.parametrize("source", ["empty", "missing", "unmounted", "s3-missing-prefix"])
def test_mirror_pull_from_vanished_source_refused(make_setup, request, source: str) -> None:
    """The remote root empty, missing, its [local] folder an empty mount point, or (S3) a missing
    prefix, which rclone counts as an empty source: the pull is refused, local files intact."""
    if source == "s3-missing-prefix":
        server = request.getfixturevalue("s3_server")
        backend = _s3(make_setup, server, request.getfixturevalue("tmp_path"))
    else:
        backend = Backend("local", None, make_setup, request.getfixturevalue("tmp_path"))
    setup = backend.setup("mirror")
    remote = many_files(setup.root / "stage", 12, folders=3)
    backend.put(setup, remote)
    ok(run_cli("sync", config=setup.config))
    assert_same(remote, tree(setup.sync_root))
    if source == "empty":
        shutil.rmtree(setup.cloud)
        setup.cloud.mkdir()
    elif source == "missing":
        shutil.rmtree(setup.cloud)
    elif source == "unmounted":
        shutil.rmtree(setup.cloud.parent)
        setup.cloud.parent.mkdir()
    else:
        backend.remove(setup, *remote)
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1, result.output
    assert "refused" in result.output and "--force" in result.output
    assert_same(remote, tree(setup.sync_root))


@pytest.mark.timeout(150)
def test_daemon_blocks_on_vanished_workspace(make_setup, start_watch: WatchStarter) -> None:
    """The workspace's files vanish under a running mailbox daemon (unmount): it logs
    "blocked" with the fix and deletes nothing remotely; a mirror daemon whose remote is empty
    blocks too and keeps the local files."""
    setup = make_setup("mailbox", debounce=0.2, max_delay=2.0)
    setup.sync_root.mkdir(parents=True)
    files = many_files(setup.sync_root, 20, folders=4)
    watcher = start_watch(setup.config)
    wait_until(lambda: synced_view(tree(setup.cloud)) == files, timeout=30)
    for child in list(setup.sync_root.iterdir()):
        if child.name != "_inbox":
            shutil.rmtree(child)
    wait_until(lambda: "blocked" in watcher.text(), timeout=60)
    assert "workspace-sync sync --force" in watcher.text()
    assert_same(files, synced_view(tree(setup.cloud)))
    assert watcher.alive()
    watcher.stop()

    mirror = make_setup("mirror", debounce=0.2, max_delay=2.0)  # same folders, now a mirror
    write_all(setup.sync_root, files)
    shutil.rmtree(setup.cloud)
    setup.cloud.mkdir()
    puller = start_watch(mirror.config, ready="")
    wait_until(lambda: "blocked" in puller.text() or not puller.alive(), timeout=60)
    assert puller.alive(), puller.text()
    assert "pull refused" in puller.text()
    assert_same(files, synced_view(tree(setup.sync_root)))


# ------------------------------------------------------------------------ 5. mass delete guard


def test_push_deleting_80_percent_refused_then_forced(backend: Backend) -> None:
    """Deleting 16 of a remote's 20 files is refused before anything is deleted; ``--force``
    does it."""
    setup = backend.setup("mailbox")
    files = many_files(setup.sync_root, 20, folders=4)
    ok(run_cli("sync", config=setup.config))
    assert file_count(setup.cloud) == 20
    doomed = sorted(files)[4:]
    for rel in doomed:
        (setup.sync_root / rel).unlink()
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1, result.output
    assert "16 of 20" in result.output and "80 %" in result.output
    assert file_count(setup.cloud) == 20
    assert_same(files, synced_view(tree(setup.cloud)))
    ok(run_cli("sync", "--force", config=setup.config))
    assert file_count(setup.cloud) == 4
    assert_same(synced_view(tree(setup.sync_root)), synced_view(tree(setup.cloud)))


# ------------------------------------------------------------ 6. 1,000 inbound same-name files

#: 20 drains in a row, each delivering ``report.txt`` at the same 50 paths (``_outbox`` and 49
#: folders): 1,000 files all named ``report.txt``, each colliding with the earlier deliveries of
#: its path.
SAME_NAME_DRAINS, SAME_NAME_FOLDERS = 20, 50


def _report_folder(k: int) -> str:
    return "" if k == 0 else f"d{k:02d}/"


def _drain_rounds(setup: Setup, rounds: list[dict[str, bytes]]) -> float:
    """Drop each round's files into the (local) remote ``_outbox`` and drain it in-process;
    every drain succeeds and empties the outbox. Returns the seconds taken."""
    outbox = setup.cloud / "_outbox"
    started = time.monotonic()

    async def drains() -> None:
        session = await open_session(load_config(setup.config))
        for files in rounds:
            write_all(outbox, files)
            report = await run_cycle(session, only={"drain"}, lock_wait=30)
            assert report.ok, report.records
            assert file_count(outbox) == 0

    anyio.run(drains)
    return time.monotonic() - started


@pytest.mark.timeout(120)
def test_thousand_same_name_inbound_files_all_kept(make_setup, capsys) -> None:
    """1,000 inbound files all named ``report.txt`` (50 paths x 20 drains, distinct contents):
    all 1,000 kept, drain n's file at ``<folder>/report (n).txt``, each content exactly once,
    outbox empty."""
    setup = make_setup("mailbox", outbox_settle=0)  # naming, not settling, is tested here
    setup.sync_root.mkdir(parents=True)
    (setup.cloud / "_outbox").mkdir(parents=True)
    rounds = [
        {
            f"{_report_folder(k)}report.txt": f"report {n}/{k}\n".encode() * (1 + (n + k) % 5)
            for k in range(SAME_NAME_FOLDERS)
        }
        for n in range(SAME_NAME_DRAINS)
    ]
    seconds = _drain_rounds(setup, rounds)
    expected = {
        rel if n == 0 else rel.replace("report.txt", f"report ({n}).txt"): data
        for n, files in enumerate(rounds)
        for rel, data in files.items()
    }
    inbox = tree(setup.sync_root / "_inbox")
    assert len(inbox) == len(expected) == 1000
    assert_same(expected, inbox)
    assert len(set(inbox.values())) == 1000  # contents all distinct, so each exactly once
    assert file_count(setup.cloud / "_outbox") == 0
    with capsys.disabled():
        print(f"\n1,000 report.txt in {SAME_NAME_DRAINS} drains: {seconds:.1f} s")


def test_case_variant_inbound_names_never_collide(make_setup) -> None:
    """``report.txt``, ``Report.txt`` and ``REPORT.TXT`` (one name on macOS and Windows) in each
    of three drains: nine files under nine names that differ case-insensitively, each content
    once."""
    setup = make_setup("mailbox", outbox_settle=0)  # naming, not settling, is tested here
    setup.sync_root.mkdir(parents=True)
    (setup.cloud / "_outbox").mkdir(parents=True)
    spellings = ("report.txt", "Report.txt", "REPORT.TXT")
    rounds = [{name: f"{name} in drain {n}".encode() for name in spellings} for n in range(3)]
    _drain_rounds(setup, rounds)
    inbox = tree(setup.sync_root / "_inbox")
    assert sorted(inbox.values()) == sorted(v for files in rounds for v in files.values())
    assert len({name.casefold() for name in inbox}) == 9, sorted(inbox)
    assert all(name.casefold().startswith("report") for name in inbox)
    assert all(name.casefold().endswith(".txt") for name in inbox)


def test_inbound_file_named_like_the_staging_folder(make_setup) -> None:
    """An inbound file called like the drain's staging folder is delivered beside it, as
    ``.workspace-sync-incoming (1)``, instead of never landing."""
    setup = make_setup("mailbox", outbox_settle=0)  # naming, not settling, is tested here
    setup.sync_root.mkdir(parents=True)
    (setup.cloud / "_outbox").mkdir(parents=True)
    _drain_rounds(setup, [{".workspace-sync-incoming": b"odd name", "plain.txt": b"plain"}])
    assert tree(setup.sync_root / "_inbox") == {
        ".workspace-sync-incoming (1)": b"odd name",
        "plain.txt": b"plain",
    }


# --------------------------------------------------- 7. files deleted mid-run, unreadable files


@pytest.mark.timeout(180)
def test_files_deleted_mid_push(make_setup, s3_server, tmp_path) -> None:
    """Half of 2,000 files are deleted while their push runs; a rerun leaves remote == local
    and every surviving file arrives with its content."""
    setup = _s3(make_setup, s3_server, tmp_path).setup("mailbox")
    files = many_files(setup.sync_root, 2000)
    proc = cli_subprocess("sync", config=setup.config)
    wait_until(
        lambda: (
            (rclone_running(setup.root, "sync") and file_count(setup.cloud) >= 20)
            or proc.poll() is not None
        ),
        timeout=60,
        interval=0.003,
    )
    assert proc.poll() is None, "the push finished before files could be deleted"
    for rel in sorted(files)[::2]:
        (setup.sync_root / rel).unlink()
        del files[rel]
    out, err = proc.communicate(timeout=120)
    print("run with deletions under it exited", proc.returncode)
    assert proc.returncode in (0, 1), out + err
    ok(run_cli("sync", config=setup.config))
    assert_same(files, synced_view(tree(setup.cloud)))
    assert_same(synced_view(tree(setup.sync_root)), synced_view(tree(setup.cloud)))


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A world-traversable folder owned by ``nobody`` (pytest's tmp_path is root-only)."""
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this machine")
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the sync as an unprivileged user")
    root = Path(tempfile.mkdtemp(prefix="ws-faults-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root.with_name(root.name + "-py"), ignore_errors=True)
        for path in [root, *root.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o700)
        shutil.rmtree(root)


def nobody_runtime(dest: Path) -> NobodyRuntime:
    """The tool copied where ``nobody`` can read it (the checkout may sit under a 0700
    folder); skips the test with the reason when ``nobody`` cannot run it."""
    nobody = pwd.getpwnam("nobody")
    assert RCLONE
    runtime = build_runtime(dest, RCLONE, nobody.pw_uid, nobody.pw_gid)
    if isinstance(runtime, str):
        pytest.skip(runtime)
    return runtime


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid)


def test_unreadable_file_reported_nothing_lost(nobody_dir: Path) -> None:
    """A file its owner cannot read (run as ``nobody``: root reads everything): the run names the
    path, exits 1, copies the rest, and holds back every deletion of that run."""
    nobody = pwd.getpwnam("nobody")
    workspace, cloud, home = nobody_dir / "ws", nobody_dir / "cloud", nobody_dir / "home"
    files = {f"docs/f{i}.txt": f"file {i}".encode() for i in range(5)}
    write_all(workspace / "shared", {**files, "locked/secret.txt": b"private"})
    write_all(cloud / "share", {"stale.txt": b"deleted locally since"})
    config = write_config(
        nobody_dir / "sync.toml",
        {
            "workspace": str(workspace),
            "mode": "mailbox",
            "provider": "local",
            "local": {"path": str(cloud)},
            "remote_path": "share",
        },
    )
    for sub in ("config", "state", "cache", "data"):
        (home / sub).mkdir(parents=True)
    _chown_tree(nobody_dir, nobody.pw_uid, nobody.pw_gid)
    (workspace / "shared/locked/secret.txt").chmod(0)
    runtime = nobody_runtime(nobody_dir.with_name(nobody_dir.name + "-py"))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        **{f"XDG_{k.upper()}_HOME": str(home / k) for k in ("config", "state", "cache", "data")},
        **runtime.env,
    }
    done = subprocess.run(
        [
            "setpriv",
            f"--reuid={nobody.pw_uid}",
            f"--regid={nobody.pw_gid}",
            "--clear-groups",
            *(runtime.python, "-m", "watcher", "--config", str(config), "sync"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=nobody_dir,
        timeout=90,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "locked/secret.txt" in output, output
    assert "held back" in output, output
    remote = tree(cloud / "share")
    assert remote.pop("stale.txt") == b"deleted locally since"  # no delete after an IO error
    assert_same(files, synced_view(remote))
    (workspace / "shared/locked/secret.txt").chmod(0o600)
    assert tree(workspace / "shared")["locked/secret.txt"] == b"private"


# ------------------------------------------------------------------------- 8. randomized soaks

SOAK_BATCHES, SOAK_OPS = 40, 50
SOAK_BUDGET = 150.0  # seconds; the soak fails rather than run on unbounded


@pytest.mark.soak
@pytest.mark.timeout(240)
def test_soak_mailbox(
    make_setup, s3_server, tmp_path, start_watch: WatchStarter, monkeypatch
) -> None:
    """2,000 seeded operations through the daemon against ``rclone serve s3``: local creates,
    edits, deletes and renames plus drops into the remote ``_outbox``. At the end the remote
    root equals the sync root minus the mailbox folders, and every drop is in _inbox once."""
    rng = random.Random(soak_seed())
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")
    backend = _s3(make_setup, s3_server, tmp_path)
    setup = backend.setup("mailbox", debounce=0.2, max_delay=2.0, outbox_poll=1)
    # A base large enough that a batch's deletions never trip the delete guard (max_delete).
    local = many_files(setup.sync_root, 400, folders=8, size=64)
    watcher = start_watch(setup.config)
    started = time.monotonic()
    dropped: list[bytes] = []
    ops = 0

    def settled() -> bool:
        return (
            file_count(setup.cloud / "_outbox") == 0
            and len(tree(setup.sync_root / "_inbox")) == len(dropped)
            and synced_view(tree(setup.cloud)) == local
        )

    for batch in range(SOAK_BATCHES):
        assert time.monotonic() - started < SOAK_BUDGET, f"soak over budget at batch {batch}"
        drops = {f"_outbox/drop-{batch}-{k}.txt": f"drop {batch}/{k}".encode() for k in range(4)}
        if batch % 10 == 0:  # the same name again, once the previous one has been drained
            drops["_outbox/same.txt"] = f"same {batch}".encode()
        backend.put(setup, drops)
        dropped += drops.values()
        written, deleted = random_ops(rng, local, SOAK_OPS - len(drops), f"b{batch}", set())
        apply_local(setup.sync_root, written, deleted)
        ops += SOAK_OPS
        if batch % 10 == 9:
            wait_until(settled, timeout=90, interval=0.3)
    wait_until(settled, timeout=90, interval=0.3)
    print(f"mailbox soak: {ops} operations in {time.monotonic() - started:.0f} s")
    assert ops >= 2000
    assert_same(local, synced_view(tree(setup.sync_root)))
    assert_same(local, synced_view(tree(setup.cloud)))
    inbox = tree(setup.sync_root / "_inbox")
    assert sorted(inbox.values()) == sorted(dropped)
    assert watcher.alive(), watcher.text()


def _bisync_run_after(setup: Setup, since: float) -> bool:
    run = last_runs(paths_of(setup)).get("bisync", {})
    return run.get("started", 0) >= since and not rclone_processes(setup.root)


@pytest.mark.soak
@pytest.mark.timeout(240)
def test_soak_bisync(make_setup, s3_server, tmp_path, start_watch: WatchStarter) -> None:
    """2,000 seeded operations on both sides (remote ones through the S3 API) with the daemon
    running bisync: after every batch's run, every content last written on either side exists
    somewhere; at the end both sides are identical (conflict copies included)."""
    rng = random.Random(soak_seed())
    backend = _s3(make_setup, s3_server, tmp_path)
    setup = backend.setup("bisync", debounce=0.5, max_delay=5.0)
    local = many_files(setup.sync_root, 200, folders=8, size=64)
    ok(run_cli("sync", "--resync", config=setup.config))
    start_watch(setup.config, ready="bisync:")
    started = time.monotonic()
    ops = conflicts_seen = 0
    for batch in range(SOAK_BATCHES):
        assert time.monotonic() - started < SOAK_BUDGET, f"soak over budget at batch {batch}"
        remote = synced_view(tree(setup.cloud))
        r_written, r_deleted = random_ops(rng, remote, SOAK_OPS // 2, f"r{batch}", set())
        backend.put(setup, r_written)
        remove_many(backend, setup, r_deleted)
        local = synced_view(tree(setup.sync_root))
        l_written, l_deleted = random_ops(rng, local, SOAK_OPS // 2, f"l{batch}", set(r_written))
        # Taken before the local changes: a debounced run may start right after the last of
        # them, before this line would otherwise run, and then no later run would come.
        since = time.time()
        apply_local(setup.sync_root, l_written, l_deleted)
        ops += SOAK_OPS
        wait_until(partial(_bisync_run_after, setup, since), timeout=60, interval=0.2)
        both = [*tree(setup.sync_root).values(), *tree(setup.cloud).values()]
        missing = [rel for rel, data in {**r_written, **l_written}.items() if data not in both]
        assert not missing, f"batch {batch}: last-written contents lost: {missing[:10]}"
        conflicts_seen = sum(".conflict" in rel for rel in tree(setup.sync_root))
    since = time.time()
    ok(run_cli("trigger", config=setup.config))
    wait_until(lambda: _bisync_run_after(setup, since), timeout=60, interval=0.2)
    local_tree = synced_view(tree(setup.sync_root))
    assert_same(local_tree, synced_view(tree(setup.cloud)))
    print(
        f"bisync soak: {ops} operations, {conflicts_seen} conflict copies, "
        f"{time.monotonic() - started:.0f} s"
    )
    assert ops >= 2000
