"""Run-level guarantees with real rclone: timeouts kill rclone, a killed drain loses nothing,
the run lock, secrets never in argv, rclone discovery errors, exit codes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib

from tests.conftest import (
    S3_SECRET,
    cli_subprocess,
    rclone_processes,
    run_cli,
    tree,
    wait_until,
    write_config,
)
from watcher.config import load_config
from watcher.engine import state_paths
from watcher.rclone.discover import version_cache_file


def test_timeout_kills_rclone_and_fails(make_setup, hanging_server, monkeypatch):
    """A remote that accepts connections and never answers: the run is stopped at its timeout,
    exits 1, and leaves no rclone process behind."""
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")
    setup = make_setup("mailbox", timeout=2, provider="s3")
    write_config(
        setup.config,
        {
            **tomllib.loads(setup.config.read_text()),
            "s3": {
                "endpoint": hanging_server,
                "bucket": "b",
                "provider": "Other",
                "access_key_id": "k",
                "secret_access_key": S3_SECRET,
            },
        },
    )
    (setup.sync_root).mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    before = set(rclone_processes(setup.root))
    started = time.monotonic()
    proc = cli_subprocess("sync", config=setup.config)
    out, err = proc.communicate(timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, err
    assert "timed out" in err
    assert elapsed < 30
    assert S3_SECRET not in out + err
    wait_until(lambda: not (set(rclone_processes(setup.root)) - before), timeout=5)


def _fewer_files(folder: Path, count: int) -> bool:
    """True once ``folder`` holds fewer than ``count`` files (or is being removed)."""
    try:
        return len([p for p in folder.rglob("*") if p.is_file()]) < count
    except FileNotFoundError:  # a folder went away while it was walked: files are going
        return True


@pytest.mark.parametrize("kill_when", ["journal", "staged", "landed", "deleted-some"])
def test_killed_drain_loses_and_duplicates_nothing(make_setup, kill_when):
    """kill -9 of the tool (and so of rclone) at several points of a drain, then a rerun: every
    inbound file is in _inbox exactly once and the outbox is empty."""
    setup = make_setup("mailbox")
    assert run_cli("sync", config=setup.config).exit_code == 0
    outbox = setup.cloud / "_outbox"
    sent = {}
    for i in range(300):
        name = f"d{i % 3}/f{i:03d}.bin"
        data = os.urandom(64) + name.encode()
        (outbox / name).parent.mkdir(parents=True, exist_ok=True)
        (outbox / name).write_bytes(data)
        sent[name] = data
    big = os.urandom(30 * 1024 * 1024)
    (outbox / "big.bin").write_bytes(big)
    sent["big.bin"] = big
    inbox = setup.sync_root / "_inbox"
    journal = state_paths(load_config(setup.config)).drain_journal
    staging = inbox / ".workspace-sync-incoming"
    conditions = {
        "journal": lambda: journal.exists() and json.loads(journal.read_text() or "[]"),
        "staged": lambda: staging.exists() and any(p.is_file() for p in staging.rglob("*")),
        "landed": lambda: any(p.is_file() for p in inbox.glob("d*/*")),
        "deleted-some": lambda: _fewer_files(outbox, len(sent)),
    }
    proc = cli_subprocess("sync", config=setup.config)
    killed = False
    try:
        wait_until(
            lambda: conditions[kill_when]() or proc.poll() is not None, timeout=60, interval=0.002
        )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
        proc.wait()
    assert killed, f"the drain finished before reaching {kill_when!r}"
    # rclone dies with its parent (parent-death signal).
    wait_until(lambda: not rclone_processes(setup.root), timeout=10)
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 0, result.output
    got = {k: v for k, v in tree(inbox).items() if not k.startswith(".workspace-sync")}
    assert got == sent
    assert not [p for p in outbox.rglob("*") if p.is_file()]
    assert not staging.exists()


def test_run_lock_names_the_holder(make_setup):
    """A second run of the same config waits, then exits 1 naming the holder's pid."""
    setup = make_setup("mailbox")
    paths = state_paths(load_config(setup.config))
    paths.create()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl,os,sys,time\n"
            f"fd=os.open({str(paths.run_lock)!r}, os.O_RDWR|os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode())\n"
            "print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        from watcher.engine import cycle

        original = cycle.LOCK_WAIT
        cycle.LOCK_WAIT = 0.3
        try:
            result = run_cli("sync", config=setup.config)
        finally:
            cycle.LOCK_WAIT = original
        assert result.exit_code == 1
        assert f"pid {holder.pid}" in result.output
    finally:
        holder.kill()
        holder.wait()


def test_secrets_not_in_argv_or_status(make_setup, s3_server):
    """While a run is in flight, no process's argv holds the S3 secret; rclone.conf is 0600 in a
    0700 folder; status and its JSON redact it."""
    setup = make_setup("mailbox", s3=s3_server)
    setup.sync_root.mkdir(parents=True)
    for i in range(200):
        (setup.sync_root / f"f{i}.txt").write_text(str(i))
    proc = cli_subprocess("sync", config=setup.config)
    seen = []
    while proc.poll() is None:
        for pid in rclone_processes(setup.root):
            with contextlib.suppress(OSError):
                seen.append(Path(f"/proc/{pid}/cmdline").read_bytes())
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert S3_SECRET not in out + err
    assert seen, "no rclone process was observed"
    assert not any(S3_SECRET.encode() in cmd for cmd in seen)
    paths = state_paths(load_config(setup.config))
    assert stat.S_IMODE(paths.rclone_conf.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.root.stat().st_mode) == 0o700
    for args in (["status"], ["status", "--json"], ["-v", "sync"]):
        result = run_cli(*args, config=setup.config)
        assert S3_SECRET not in result.output


def test_rclone_conf_regenerated_when_provider_settings_change(make_setup, s3_server):
    setup = make_setup("mailbox", s3=s3_server)
    assert run_cli("sync", config=setup.config).exit_code == 0
    conf = state_paths(load_config(setup.config)).rclone_conf
    assert "region" not in conf.read_text()
    setup.config.write_text(
        setup.config.read_text().replace(
            'bucket = "bucket"', 'bucket = "bucket"\nregion = "eu-test-1"'
        )
    )
    assert run_cli("sync", config=setup.config).exit_code == 0
    assert "region = eu-test-1" in conf.read_text()


def test_missing_rclone_exits_2(make_setup, monkeypatch, tmp_path):
    setup = make_setup("mailbox")
    monkeypatch.setenv("WORKSPACE_SYNC_RCLONE", str(tmp_path / "no-such-rclone"))
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 2
    assert "no-such-rclone" in result.output
    assert not (setup.cloud).exists()


def test_old_rclone_refused(make_setup, monkeypatch, tmp_path):
    fake = tmp_path / "rclone"
    fake.write_text("#!/bin/sh\necho 'rclone v1.60.1'\n")
    fake.chmod(0o755)
    setup = make_setup("mailbox")
    monkeypatch.setenv("WORKSPACE_SYNC_RCLONE", str(fake))
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 2
    assert "v1.60.1" in result.output and "1.66" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_rclone_version_cached_per_binary(make_setup, monkeypatch, tmp_path):
    """The version of a binary is remembered, and checked again as soon as the file changes:
    an rclone replaced by an old one is refused on the next run."""
    log = tmp_path / "runs.log"
    fake = tmp_path / "bin" / "rclone"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho ran >> '{log}'\necho 'rclone v1.70.0'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("WORKSPACE_SYNC_RCLONE", str(fake))
    for _ in range(3):
        assert "rclone v1.70.0" in run_cli("--version").output
    assert log.read_text().count("ran") == 1
    assert "v1.70.0" in version_cache_file().read_text()

    fake.write_text(f"#!/bin/sh\necho ran >> '{log}'\necho 'rclone v1.60.1'\n")
    fake.chmod(0o755)
    result = run_cli("sync", config=make_setup("mailbox").config)
    assert result.exit_code == 2 and "v1.60.1" in result.output
    assert log.read_text().count("ran") == 2


def test_provider_off_exits_2(make_setup):
    setup = make_setup("mailbox", provider="off")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 2
    assert "disabled" in result.output


def test_missing_workspace_refused(make_setup):
    setup = make_setup("mailbox")
    assert run_cli("sync", config=setup.config).exit_code == 0
    (setup.cloud / "keep.txt").write_text("keep")
    setup.config.write_text(
        setup.config.read_text().replace(str(setup.workspace), str(setup.root / "unmounted"))
    )
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert (setup.cloud / "keep.txt").read_text() == "keep"
    assert not (setup.root / "unmounted").exists()


def test_version_names_rclone():
    result = run_cli("--version")
    assert result.exit_code == 0
    assert "workspace-sync" in result.output and "rclone v1." in result.output


def test_config_option_after_command(make_setup):
    setup = make_setup("mailbox")
    result = run_cli("sync", "--config", str(setup.config))
    assert result.exit_code == 0, result.output


def test_failing_guard_listing_is_one_line_exit_1(make_setup):
    """A listing the guard needs fails (the remote root is a file): exit 1, no traceback."""
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    setup.cloud.parent.mkdir(parents=True)
    setup.cloud.write_text("I am a file, not a folder")
    result = run_cli("sync", "--direction", "push", config=setup.config)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "ExceptionGroup" not in result.output
    assert "push" in result.output and "failed" in result.output
