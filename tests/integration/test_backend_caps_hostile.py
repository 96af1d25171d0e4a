"""Hostile checks of the backend-capabilities work (issue 15, rows 15-3g…): inputs where a
backend that keeps no modification times or hashes (wsgidav) made the tool keep copies it
did not need, lose an edit or say something untrue."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import WatchStarter, run_cli, tree, wait_until
from tests.integration.test_backend_caps import config_for, same_size_edit
from tests.servers import DavServer, FtpServer


@pytest.fixture(autouse=True)
def _test_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short polls need the lowered test minimums (inherited by the daemon)."""
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")


@pytest.mark.timeout(60)
def test_webdav_resync_keeps_no_copy_of_identical_files(tmp_path: Path, dav: DavServer) -> None:
    """``sync --resync`` on wsgidav where both sides already hold the same files (a user
    moving from mailbox to bisync, or a second resync): the remote's modtimes are upload
    times, so only the content can say whether two same-size files differ. Identical files
    get no ``.conflictN`` copy (old code: one per file, on both sides, "kept N losing
    versions"); a same-size file that differs, in a subfolder, is still kept."""
    config = config_for(tmp_path, "bisync", "webdav", dav.rclone_options())
    local, remote = tmp_path / "ws" / "shared", dav.root / "share"
    both = {"same.txt": b"same", "sub/deep/same 2.txt": b"same-2", "sub/diff.txt": b"LLL"}
    for root in (local, remote):
        for rel, body in both.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(body)
    (remote / "sub" / "diff.txt").write_bytes(b"RRR")
    (local / "only-local.txt").write_bytes(b"mine")
    old = time.time() - 120
    for path in local.rglob("*.txt"):
        os.utime(path, (old, old))
    result = run_cli("sync", "--resync", config=config)
    assert result.exit_code == 0, result.output
    want = {
        **both,
        "sub/diff.txt.conflict1": b"RRR",
        "only-local.txt": b"mine",
    }
    assert tree(local) == want, result.output
    assert tree(remote) == want, result.output
    assert "kept 1 losing versions" in result.output, result.output


class Gate:
    """A TCP forwarder on a fixed loopback port to ``target``; nothing listens there until
    :meth:`open` (a server that is down, then back)."""

    def __init__(self, target: int) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.listener: socket.socket | None = None

    def open(self) -> None:
        """Start listening and forwarding (one thread per direction and connection)."""
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Stop listening (new connections are refused; shutdown wakes the blocked accept)."""
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None


@pytest.mark.timeout(60)
def test_ftp_down_when_asked_then_back_same_second_edit_still_pushed(
    tmp_path: Path, ftpd: FtpServer, start_watch: WatchStarter
) -> None:
    """``watch`` starts while the FTP server is down, so rclone cannot say what the backend
    supports (1 s modtimes, no hash); the server comes back and a same-size edit within the
    second of the uploaded version is made before the daemon asks again (5 min): it reaches
    the server (old code: while the features were unknown, listed paths were pushed without
    ``--ignore-times``, "Unchanged skipping", and no later full sync could see the edit).
    Then the server goes down again, the next such edit's push fails and is retried as a full
    cycle (size + 1 s modtime: it cannot see the edit): the edit still arrives, pushed as a
    carried listed path (old code: lost, "push: copied 0", health ok; row 15-3i)."""
    gate = Gate(ftpd.port)
    (ftpd.root / "share" / "_outbox").mkdir(parents=True)  # FTP 501 on a missing folder: 15-4x
    config = config_for(tmp_path, "mailbox", "ftp", {**ftpd.rclone_options(), "port": gate.port})
    local, remote = tmp_path / "ws" / "shared" / "a.txt", ftpd.root / "share" / "a.txt"
    local.write_bytes(b"version-1")
    second = (time.time_ns() // 10**9 - 5) * 10**9
    os.utime(local, ns=(second, second))
    try:
        watcher = start_watch(config, ready="")
        wait_until(lambda: "could not ask rclone what" in watcher.text(), 15)
        gate.open()
        wait_until(lambda: remote.is_file() and remote.read_bytes() == b"version-1", 15)
        same_size_edit(local, b"version-2", second + 500_000_000)
        try:
            wait_until(lambda: remote.read_bytes() == b"version-2", 6)
        except AssertionError:
            pytest.fail(f"same-size edit not pushed: remote holds {remote.read_bytes()!r}")
        gate.close()  # down again: the next edit's push fails and is retried as a full cycle
        retries = watcher.text().count("retrying in")
        same_size_edit(local, b"version-3", second + 700_000_000)
        wait_until(lambda: watcher.text().count("retrying in") > retries, 10)
        gate.open()
        try:
            wait_until(lambda: remote.read_bytes() == b"version-3", 8)
        except AssertionError:
            pytest.fail(f"edit whose push failed once lost: remote holds {remote.read_bytes()!r}")
    finally:
        gate.close()
