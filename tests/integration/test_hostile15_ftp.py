"""Issue 15, tried as a hostile user would, against real servers (rows 15-4h and on): mirror's
record of "what the last pull wrote" on a WebDAV server that keeps no modification times
(wsgidav), remote roots that cannot be created or vanish on FTP / SFTP / WebDAV, and a server
that refuses the credentials."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import tomllib

from tests.conftest import (
    S3_KEY,
    S3_SECRET,
    S3Server,
    Setup,
    run_cli,
    tree,
    write_config,
)
from tests.integration.helpers import Backend, backups, ok, sync, write
from tests.integration.test_ftp import ftp_config
from tests.servers import DavServer, FtpServer, ServerUnavailable, start_ftp

REMOTE = {"a.txt": b"a v1\n", "b.txt": b"b v1\n", "c.txt": b"c v1\n", "d.txt": b"d v1\n"}


class Remote:
    """The mirror's remote root on ``local``, ``rclone serve s3`` or wsgidav, written to as
    another client would."""

    def __init__(self, kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        make_setup: Callable[..., Setup] = request.getfixturevalue("make_setup")
        self.dav: DavServer | None = None
        if kind == "wsgidav":
            self.dav = request.getfixturevalue("dav")
            custom = {"rclone_type": "webdav", "rclone_options": self.dav.rclone_options()}
            self.setup = make_setup("mirror", provider="custom", custom=custom)
            self.root = self.dav.root / "share"
            self.backend = None
        else:
            s3: S3Server | None = request.getfixturevalue("s3_server") if kind == "s3" else None
            if s3 is not None:
                (tmp_path / "peer.conf").write_text(
                    f"[peer]\ntype = s3\nprovider = Rclone\nendpoint = {s3.endpoint}\n"
                    f"access_key_id = {S3_KEY}\nsecret_access_key = {S3_SECRET}\n",
                    encoding="utf-8",
                )
            self.backend = Backend(kind, s3, make_setup, tmp_path)
            self.setup = self.backend.setup("mirror")
            self.root = self.setup.cloud

    def put(self, files: dict[str, bytes], mtime: float | None = None) -> None:
        """Upload ``files`` (with ``mtime`` on the server when given)."""
        if self.backend is not None:
            self.backend.put(self.setup, files, mtime)
            return
        for rel, data in files.items():
            path = write(self.root, rel, data)
            if mtime is not None:
                os.utime(path, (mtime, mtime))


@pytest.fixture(params=["s3", "wsgidav"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Remote:
    """A mirror's remote on `rclone serve s3` (modtimes and MD5) and on wsgidav (neither)."""
    return Remote(request.param, request, tmp_path)


def test_mirror_pulls_without_local_edits_keep_no_backups(remote: Remote) -> None:
    """15-4h: pulls that replace files nobody edited locally move nothing aside and warn
    nothing, on wsgidav too (no modtimes: listed times are upload times, full syncs compare by
    size only, so a re-upload of the same bytes leaves the local file untouched), while real
    local edits (one of another size, one of the same size) are kept before being
    overwritten."""
    setup = remote.setup
    remote.put(REMOTE, time.time() - 120)
    ok(sync(setup))
    assert tree(setup.sync_root) == REMOTE
    # The remote replaces a.txt and re-uploads b.txt unchanged (a new upload time); the user
    # edits c.txt (another size) and d.txt (the same size).
    remote.put({"a.txt": b"a v2, longer\n"})
    remote.put({"b.txt": REMOTE["b.txt"]}, time.time() - 60)
    write(setup.sync_root, "c.txt", b"my edit of c, longer\n")
    write(setup.sync_root, "d.txt", b"D v1\n")
    second = ok(sync(setup))
    assert "a.txt" not in backups(setup), second.output
    assert backups(setup)["c.txt"] == b"my edit of c, longer\n"
    # Now the remote replaces b.txt (pulled untouched) and d.txt (edited locally).
    remote.put({"b.txt": b"b v2, longer\n", "d.txt": b"d v2, longer\n"})
    third = ok(sync(setup))
    assert backups(setup) == {"c.txt": b"my edit of c, longer\n", "d.txt": b"D v1\n"}, third.output
    assert tree(setup.sync_root) == tree(remote.root)
    remote.put({"a.txt": b"a v3, longer still\n"})
    quiet = ok(sync(setup))
    assert "moved aside" not in quiet.output, quiet.output
    assert backups(setup) == {"c.txt": b"my edit of c, longer\n", "d.txt": b"D v1\n"}


def test_push_to_a_root_a_read_only_ftp_user_cannot_create(tmp_path: Path) -> None:
    """15-4i: a read-only FTP user (pyftpdlib ``perm = "elr"``) and a missing remote root:
    pyftpdlib refuses ``MKD`` with ``550``, which rclone's FTP backend takes for "exists
    already" (``rclone mkdir`` exits 0). The push and the mirror's ingest fail (exit 1) naming
    the folder that could not be created and why; nothing claims it was created, every local
    file stays, and ``status`` is not ``ok``."""
    try:
        server = start_ftp(tmp_path / "ftproot", perm="elr")
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    try:
        config = ftp_config(tmp_path / "gw", server, "mailbox", "deep/share")
        write(tmp_path / "gw" / "ws" / "shared", "a.txt", "alpha")
        push = run_cli("sync", config=config)
        assert push.exit_code == 1, push.output
        assert "cannot create cloud:deep/share" in push.output, push.output
        assert "created cloud:" not in push.output and "was created" not in push.output
        assert tree(tmp_path / "gw" / "ws" / "shared") == {"a.txt": b"alpha"}
        assert run_cli("status", "--json", config=config).output.count('"health": "ok"') == 0
        laptop = ftp_config(tmp_path / "lap", server, "mirror", "", ingest=True)
        write(tmp_path / "lap" / "ws" / "inbox", "note.txt", "for the agent")
        ingest = run_cli("sync", config=laptop)
        assert ingest.exit_code == 1, ingest.output
        assert "cannot create cloud:_outbox" in ingest.output, ingest.output
        assert tree(tmp_path / "lap" / "ws" / "inbox") == {"note.txt": b"for the agent"}
        assert tree(server.root) == {}
    finally:
        server.stop()


def test_ftp_530_wrong_password_is_credentials_never_a_missing_folder(
    tmp_path: Path, ftpd: FtpServer
) -> None:
    """15-4j: pyftpdlib answers a wrong password with ``530 "Authentication failed."``:
    ``status`` says unreachable and names the credentials (not "does not exist yet"), ``sync``
    fails (exit 1) naming them, creates nothing and keeps the local file."""
    config = ftp_config(tmp_path, ftpd, "mailbox", "share")
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    data["custom"]["rclone_options"]["pass"] = "not the password"
    write_config(config, data)
    write(tmp_path / "ws" / "shared", "a.txt", "alpha")
    pushed = run_cli("sync", config=config)
    assert pushed.exit_code == 1, pushed.output
    assert "access denied" in pushed.output and "check the credentials" in pushed.output
    state = json.loads(ok(run_cli("status", "--json", config=config)).output)
    assert state["health"] == "unreachable" and not state["remote"]["reachable"], state
    assert "does not exist" not in state["remote"]["message"]
    assert "access denied" in state["remote"]["message"], state["remote"]
    assert tree(ftpd.root) == {} and not (ftpd.root / "share").exists()
    assert tree(tmp_path / "ws" / "shared") == {"a.txt": b"alpha"}
