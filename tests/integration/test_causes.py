"""Issue 14, cases 6 and 7: a hung endpoint bounds the cycle (timeout + grace, no rclone left,
the remaining steps not run against the dead remote), and failures name their real cause
(connection refused, 403 with the S3 keys to check, a missing OAuth token with
`workspace-sync authorize`, a wrong backup password, a read-only workspace without _inbox).
The hung-endpoint test is the only long one (~20 s by design) and runs first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import tomllib

from tests.conftest import (
    S3_SECRET,
    S3Server,
    cli_subprocess,
    free_port,
    rclone_processes,
    run_cli,
    wait_until,
    write_config,
)
from watcher.config import load_config
from watcher.daemon.backups import BackupTimer
from watcher.engine import open_session

PASSWORD = "the right backup password 7"


def _s3_table(endpoint: str, secret: str = S3_SECRET) -> dict[str, str]:
    return {
        "endpoint": endpoint,
        "bucket": "bucket",
        "provider": "Other",
        "access_key_id": "AKIDTESTKEY",
        "secret_access_key": secret,
    }


def _with(config: Path, **keys: object) -> Path:
    """Rewrite ``config`` with ``keys`` replaced."""
    return write_config(config, {**tomllib.loads(config.read_text()), **keys})


#: The run limit of the hung-endpoint test (lowered from the minimum 60 with
#: WORKSPACE_SYNC_TEST_LIMITS=1; rclone's connect/idle timeouts scale with it, so the same run
#: limit stops the listing): `sync` must end within it plus start-up and grace, which stays
#: below 2 × HUNG_TIMEOUT, what the old code took (the push's listing, then the drain's).
HUNG_TIMEOUT = 20


@pytest.mark.timeout(200)
def test_never_answering_endpoint_ends_the_cycle_within_timeout(
    make_setup, hanging_server, monkeypatch
):
    """S3 endpoint that accepts and never answers, timeout = 20: `sync` exits 1 within 30 s
    (old code: still running at 120 s with timeout = 60), the drain is not run against the
    dead remote, and no rclone is left."""
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")
    setup = make_setup("mailbox", timeout=HUNG_TIMEOUT)
    _with(setup.config, provider="s3", s3=_s3_table(hanging_server))
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    started = time.monotonic()
    proc = cli_subprocess("sync", config=setup.config)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        pytest.fail(f"sync still running after {time.monotonic() - started:.0f} s")
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, err
    assert elapsed <= HUNG_TIMEOUT + 10, f"sync took {elapsed:.1f} s"
    assert "timed out" in err
    assert "drain   FAILED   not run: push could not reach the remote: timed out" in err, err
    assert S3_SECRET not in out + err
    wait_until(lambda: not rclone_processes(setup.root), timeout=5)


def test_s3_closed_port_and_wrong_secret_name_the_cause(make_setup, s3_server: S3Server):
    """A closed port says "connection refused" and skips the drain; a wrong secret says 403
    and which keys to check. Neither says only "can't limit to single files"."""
    setup = make_setup("mailbox", s3=s3_server)
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    s3 = tomllib.loads(setup.config.read_text())["s3"]

    _with(setup.config, s3={**s3, "endpoint": f"http://127.0.0.1:{free_port()}"})
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1, result.output
    assert "can't limit to single files" not in result.output
    assert "push    FAILED" in result.output and "connection refused" in result.output
    assert "drain   FAILED   not run: push could not reach the remote" in result.output

    _with(setup.config, s3={**s3, "secret_access_key": "wrong-" + S3_SECRET})
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1, result.output
    assert "can't limit to single files" not in result.output
    assert "403" in result.output and "access denied" in result.output
    assert f"check access_key_id/secret_access_key in [s3] of {setup.config}" in result.output
    assert "wrong-" + S3_SECRET not in result.output
    status = run_cli("status", "--json", config=setup.config)  # health: unreachable, and why
    assert status.exit_code == 0, status.output
    data = json.loads(status.stdout)
    assert data["health"] == "unreachable" and not data["remote"]["reachable"], data
    assert "403" in data["remote"]["message"] and "wrong-" + S3_SECRET not in status.stdout
    assert data["command"] == f"workspace-sync status --config {setup.config}"


def test_dropbox_without_token_points_at_authorize(make_setup):
    """No token: the fix named is this tool's `authorize` (rclone fails before any network
    request), not rclone's `rclone config reconnect` for the user's own rclone.conf."""
    setup = make_setup("mailbox", provider="dropbox")
    setup.sync_root.mkdir(parents=True)
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1, result.output
    assert "rclone config reconnect" not in result.output
    assert f"run `workspace-sync authorize --config {setup.config}`" in result.output


def _raw_objects(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_wrong_backup_password_is_an_error_and_starts_no_series(make_setup):
    """A snapshot under one password, then another password: `backup list` and `backup` exit 1
    naming the undecryptable objects; neither the CLI nor the daemon's snapshot timer writes a
    new series (the backup folder keeps exactly its objects)."""
    setup = make_setup("mailbox", backup={"enabled": True, "password": PASSWORD, "interval": 0})
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    assert run_cli("backup", config=setup.config).exit_code == 0
    folder = setup.cloud.parent / "openclaw-backup"
    before = _raw_objects(folder)
    assert len(before) == 2  # the snapshot and its manifest

    _with(setup.config, backup={"enabled": True, "password": "not " + PASSWORD, "interval": 0})
    listed = run_cli("backup", "list", config=setup.config)
    assert listed.exit_code == 1, listed.output
    assert "2 snapshot objects" in listed.output
    assert "cannot be decrypted with this password" in listed.output
    assert "0 snapshots" not in listed.output
    taken = run_cli("backup", config=setup.config)
    assert taken.exit_code == 1 and "cannot be decrypted" in taken.output, taken.output

    async def daemon_snapshot() -> None:
        session = await open_session(load_config(setup.config))
        await BackupTimer(session, anyio.Lock())._once()  # logs the failure, never raises

    anyio.run(daemon_snapshot)
    assert _raw_objects(folder) == before
    assert "not " + PASSWORD not in listed.output + taken.output


@pytest.fixture
def read_only_bind() -> Iterator[list[Path]]:
    """Folders made read-only by a bind mount (needs root and mount(8)); undone afterwards."""
    mounted: list[Path] = []
    yield mounted
    for path in reversed(mounted):
        subprocess.run(["umount", str(path)], capture_output=True, check=False)


def test_read_only_workspace_without_inbox_still_pushes(make_setup, read_only_bind):
    """Mailbox on a read-only workspace without _inbox: one line naming the problem, no
    traceback, the push (which only reads) runs; exit 1 because the drain could not."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a read-only bind mount needs root and mount(8)")
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    ws = setup.workspace
    if subprocess.run(["mount", "--bind", str(ws), str(ws)], capture_output=True).returncode:
        pytest.skip("cannot bind-mount here")
    read_only_bind.append(ws)
    remount = ["mount", "-o", "remount,ro,bind", str(ws)]
    if subprocess.run(remount, capture_output=True).returncode:
        pytest.skip("cannot remount read-only here")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = f"cannot create _inbox in {setup.sync_root}: read-only; inbound files wait until"
    assert result.output.count(line) == 1, result.output
    assert (setup.cloud / "a.txt").read_text() == "a"
