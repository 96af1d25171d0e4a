"""Backends that cannot tell a same-size edit from no edit (issue 15, rows 15-3x): wsgidav
(WebDAV, ``vendor = other``: no modtime, no hash), pyftpdlib (FTP: 1 s modtimes, no hash) and
OpenSSH restricted to ``internal-sftp`` (1 s modtimes, no shell, so no hash). rclone compares
size (and a modtime within its precision) and skips such an edit as "Unchanged skipping";
the tool asks rclone what the backend supports and uploads paths known to have changed
regardless, makes bisync conflicts keep the winner's name, and warns in ``status``."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WatchStarter, run_cli, tree, wait_until, write_config
from tests.integration.server_fixtures import serve
from tests.servers import (
    APT_SSH,
    DavServer,
    FtpServer,
    SshServer,
    start_ftp,
    start_sshd,
)


@pytest.fixture(autouse=True)
def _test_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short polls need the lowered test minimums (inherited by the daemon)."""
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")


@pytest.fixture(params=["ftp", "sftp"])
def coarse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A server keeping 1 s modtimes and no hash: pyftpdlib, or OpenSSH (internal-sftp)."""
    if request.param == "ftp":
        yield from serve(lambda: start_ftp(tmp_path / "srvroot"))
        return
    if shutil.which("sftp") is None:
        pytest.skip(f"openssh-client not installed: {APT_SSH}")
    yield from serve(lambda: start_sshd(tmp_path / "sshd", tmp_path / "srvroot"))


def config_for(tmp_path: Path, mode: str, rclone_type: str, options: dict[str, Any]) -> Path:
    """A config of ``mode`` on a ``[custom]`` remote (remote folder ``share``)."""
    (tmp_path / "ws" / "shared").mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "workspace": str(tmp_path / "ws"),
        "mode": mode,
        "provider": "custom",
        "custom": {"rclone_type": rclone_type, "rclone_options": options},
        "remote_path": "share",
        "local_path": "shared",
        "outbox_poll": 1,
        "outbox_settle": 0,
        "debounce": 0.2,
    }
    return write_config(tmp_path / "sync.toml", data)


def same_size_edit(path: Path, body: bytes, mtime_ns: int | None = None) -> None:
    """Replace ``path``'s content with ``body`` (as long as the old one), optionally setting
    its mtime."""
    assert len(body) == path.stat().st_size
    path.write_bytes(body)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def edit_reaches(
    watch: WatchStarter, config: Path, local: Path, remote: Path, *, same_second: bool = False
) -> None:
    """A file the daemon's first cycle uploads, then a same-size edit of it under ``watch``
    (mailbox), reach the server (old code: the edit stayed local, "Unchanged skipping").
    With ``same_second`` the first version's mtime is a whole second and the edit's half a
    second later (an editor saving twice within a second), so a 1 s precision sees no change."""
    local.write_bytes(b"version-1")
    second = (time.time_ns() // 10**9 - 5) * 10**9
    if same_second:
        os.utime(local, ns=(second, second))
    watcher = watch(config)
    wait_until(lambda: remote.is_file() and remote.read_bytes() == b"version-1", 15)
    same_size_edit(local, b"version-2", second + 500_000_000 if same_second else None)
    try:
        wait_until(lambda: remote.read_bytes() == b"version-2", 10)
    except AssertionError:
        pytest.fail(f"same-size edit not pushed: remote holds {remote.read_bytes()!r}")
    assert "ERROR" not in watcher.text(), watcher.text()


@pytest.mark.timeout(60)
def test_webdav_same_size_edit_under_watch_and_status_warns(
    tmp_path: Path, dav: DavServer, start_watch: WatchStarter
) -> None:
    """wsgidav (no modtime, no hash), mailbox under ``watch``: a same-size edit reaches the
    server; ``status --json`` then reports the backend's capabilities with the warning and
    the text ``status`` prints it; the features were stored once, keyed by the settings."""
    config = config_for(tmp_path, "mailbox", "webdav", dav.rclone_options())
    local, remote = tmp_path / "ws" / "shared" / "a.txt", dav.root / "share" / "a.txt"
    edit_reaches(start_watch, config, local, remote)
    data = json.loads(run_cli("status", "--json", config=config).stdout)
    backend = data["backend"]
    assert backend["modtime"] is False and backend["hashes"] == [], backend
    assert any("compare sizes only" in w for w in backend["warnings"]), backend
    text = run_cli("status", config=config).output
    warning = [line for line in text.splitlines() if line.startswith("warning ")]
    assert warning and "the remote (webdav) keeps no modification times" in warning[0], text


@pytest.mark.timeout(60)
def test_coarse_modtime_same_second_edit_under_watch(
    tmp_path: Path, coarse: FtpServer | SshServer, start_watch: WatchStarter
) -> None:
    """pyftpdlib and OpenSSH internal-sftp keep 1 s modtimes and no hash: a same-size edit
    whose mtime is within the second of the uploaded version still reaches the server."""
    kind = "ftp" if isinstance(coarse, FtpServer) else "sftp"
    # pyftpdlib answers a missing folder with 501 (rows 15-4x): the remote folders exist here
    (coarse.root / "share" / "_outbox").mkdir(parents=True)
    config = config_for(tmp_path, "mailbox", kind, coarse.rclone_options())
    local, remote = tmp_path / "ws" / "shared" / "a.txt", coarse.root / "share" / "a.txt"
    edit_reaches(start_watch, config, local, remote, same_second=True)


@pytest.mark.timeout(60)
def test_webdav_bisync_same_size_edit_and_conflict_keep_everything(
    tmp_path: Path, dav: DavServer
) -> None:
    """bisync on wsgidav: a local same-size edit reaches the server (old code: skipped, and
    the listings then said both sides agree); a conflict with ``conflict_resolve = newer``,
    which rclone cannot decide without remote modtimes, keeps the local version under the
    name and the remote one as ``.conflict1`` on both sides (old code: ``.conflict1`` and
    ``.conflict2``, the name gone)."""
    config = config_for(tmp_path, "bisync", "webdav", dav.rclone_options())
    local, remote = tmp_path / "ws" / "shared", dav.root / "share"
    (local / "a.txt").write_bytes(b"aaa-1")
    (local / "b.txt").write_bytes(b"bbb")
    (local / "c.txt").write_bytes(b"unchanged")  # not every file changes: no safety abort
    result = run_cli("sync", "--resync", config=config)
    assert result.exit_code == 0, result.output
    assert tree(remote) == {"a.txt": b"aaa-1", "b.txt": b"bbb", "c.txt": b"unchanged"}
    same_size_edit(local / "a.txt", b"aaa-2")
    (remote / "b.txt").write_bytes(b"remote edit")
    time.sleep(0.05)  # the local edit is the newer one (mtimes differ), not a synchronisation
    (local / "b.txt").write_bytes(b"local edit, newer")
    result = run_cli("sync", config=config)
    assert result.exit_code == 0, result.output
    want = {
        "a.txt": b"aaa-2",
        "b.txt": b"local edit, newer",
        "b.txt.conflict1": b"remote edit",
        "c.txt": b"unchanged",
    }
    assert tree(remote) == want, result.output
    assert tree(local) == want, result.output


@pytest.mark.timeout(60)
def test_setup_warns_after_writing_a_webdav_remote(
    tmp_path: Path, dav: DavServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``setup`` on wsgidav writes the remote section, asks its features and warns before
    the first dry run that same-size edits are carried only by ``watch``; the answer is
    stored in the state folder keyed by the settings' fingerprint."""
    out, options = tmp_path / "sync.toml", dav.rclone_options()
    monkeypatch.setenv("WORKSPACE_SYNC_CUSTOM_PASS", options.pop("pass"))
    args = ["setup", "--non-interactive", "-o", str(out), "--provider", "custom", "--mode"]
    args += ["bisync", "--workspace", str(tmp_path / "ws"), "--custom-type", "webdav"]
    for key, value in options.items():
        args += ["--custom-option", f"{key}={value}"]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert "keeps no modification times and no hashes" in warnings[0], result.output
    assert "conflict_resolve = newer acts as local" in warnings[1], result.output
    stored = list((tmp_path / "home").rglob("backend-features.json"))
    assert len(stored) == 1, stored
    data = json.loads(stored[0].read_text())
    assert data["features"]["precision_ns"] == 3153600000000000000 and data["fingerprint"]


@pytest.mark.timeout(60)
def test_webdav_resync_keeps_every_remote_version(tmp_path: Path, dav: DavServer) -> None:
    """``sync --resync`` on wsgidav with both sides holding other versions (one of the same
    size), the remote ones written later: rclone ignores ``--resync-mode newer`` there and the
    local versions win, so every remote version is kept as ``.conflict1`` first, and the
    same-size pair is not left different on the two sides."""
    config = config_for(tmp_path, "bisync", "webdav", dav.rclone_options())
    local, remote = tmp_path / "ws" / "shared", dav.root / "share"
    (local / "same.txt").write_bytes(b"lll")
    (local / "diff.txt").write_bytes(b"local")
    remote.mkdir(parents=True)
    (remote / "same.txt").write_bytes(b"RRR")
    (remote / "diff.txt").write_bytes(b"remote, longer")
    for path in local.iterdir():  # the remote versions are the newer ones
        os.utime(path, (time.time() - 60, time.time() - 60))
    result = run_cli("sync", "--resync", config=config)
    assert result.exit_code == 0, result.output
    want = {
        "same.txt": b"lll",
        "same.txt.conflict1": b"RRR",
        "diff.txt": b"local",
        "diff.txt.conflict1": b"remote, longer",
    }
    assert tree(local) == want, result.output
    assert tree(remote) == want, result.output
