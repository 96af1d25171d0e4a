"""Half-written inbound files (issue 12, item 1): a file that is still being uploaded into the
remote ``_outbox`` must not be drained until it is complete. Real uploaders and real servers that
write uploads in place under the final name: a chunked local writer, OpenSSH's ``sftp`` against a
private ``sshd``, a paced WebDAV PUT against wsgidav and a paced FTP STOR against pyftpdlib. Each
gateway runs ``workspace-sync watch`` in mailbox mode polling the outbox every second; each test
expects exactly one complete copy in ``_inbox``, no ``slow (1).bin``, and the remote emptied."""

from __future__ import annotations

import base64
import contextlib
import ftplib
import hashlib
import http.client
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Watcher, WatchStarter, tree, wait_until, write_config
from tests.servers import (
    DAV_PASS,
    DAV_USER,
    FTP_PASS,
    FTP_USER,
    DavServer,
    FtpServer,
    SshServer,
)

NAME = "slow.bin"


@pytest.fixture(autouse=True)
def _test_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """outbox_poll = 1 needs the lowered test minimums (inherited by the daemon)."""
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")


def payload(size: int) -> bytes:
    """``size`` incompressible bytes."""
    return os.urandom(size)


def gateway(tmp_path: Path, provider: str, table: dict[str, Any]) -> Path:
    """A mailbox config on ``provider`` (``table`` is its settings table) polling every second."""
    workspace = tmp_path / "ws"
    (workspace / "shared").mkdir(parents=True)
    data: dict[str, Any] = {
        "workspace": str(workspace),
        "mode": "mailbox",
        "provider": provider,
        provider: table,
        "remote_path": "share",
        "local_path": "shared",
        "outbox_poll": 1,
        "debounce": 0.2,
    }
    return write_config(tmp_path / "sync.toml", data)


def custom(rclone_type: str, options: dict[str, Any]) -> dict[str, Any]:
    """A ``[custom]`` table for an rclone backend."""
    return {"rclone_type": rclone_type, "rclone_options": options}


@dataclass
class Probe:
    """Samples the size of the server's file of an upload (-1 while it is absent), to show the
    server writes in place (else these tests would prove nothing) and to catch a delete
    mid-upload."""

    target: Path
    sizes: list[int] = field(default_factory=list)

    def sample(self) -> None:
        try:
            self.sizes.append(self.target.stat().st_size)
        except FileNotFoundError:
            self.sizes.append(-1)

    def check_in_place(self, total: int) -> None:
        """Fail unless the file was seen under its final name while incomplete."""
        assert any(0 < size < total for size in self.sizes), (
            f"the server did not write the upload in place (sizes seen {self.sizes}); "
            "this test needs a server that does"
        )

    def vanished(self) -> bool:
        """True when the file disappeared after it had appeared (deleted mid-upload)."""
        seen = [k for k, size in enumerate(self.sizes) if size >= 0]
        return bool(seen) and -1 in self.sizes[seen[0] :]


def ready_outbox(watcher: Watcher, outbox: Path) -> None:
    """Wait for the daemon's first cycle to have created the remote ``_outbox``."""
    wait_until(lambda: outbox.is_dir() or not watcher.alive(), 30)
    assert watcher.alive(), watcher.text()


OWN = ".workspace-sync"  # the drain's own hidden folders under _inbox (staging)


def delivered(inbox: Path) -> dict[str, bytes]:
    """What the agent sees in ``_inbox``: everything but the drain's own hidden folders."""
    return {k: v for k, v in tree(inbox).items() if not k.startswith(OWN)}


def assert_one_complete_copy(watcher: Watcher, inbox: Path, outbox: Path, data: bytes) -> None:
    """Once the drain is done (remote outbox empty, staging gone; at most 30 s): ``_inbox``
    holds exactly one copy of ``data`` under its own name (no partial or numbered copies), the
    daemon logged no error (an unsettled file waits, it is not a failure) and still runs."""

    def done() -> bool:
        everything = tree(inbox)
        return (
            not tree(outbox) and bool(everything) and not any(k.startswith(OWN) for k in everything)
        )

    with contextlib.suppress(AssertionError):  # on a timeout the checks below say what is left
        wait_until(done, 30, 0.1)
    got = delivered(inbox)
    sizes = {rel: len(body) for rel, body in got.items()}
    want = hashlib.sha256(data).hexdigest()
    complete = [rel for rel, body in got.items() if hashlib.sha256(body).hexdigest() == want]
    partial = sorted(set(got) - set(complete))
    assert complete == [NAME] and not partial, (
        f"expected one complete {NAME} ({len(data)} bytes); got {len(complete)} complete and "
        f"{len(partial)} partial copies: {sizes}\n{watcher.text()[-3000:]}"
    )
    assert not tree(outbox), f"the remote outbox was not emptied: {sorted(tree(outbox))}"
    assert done(), f"the drain left staged files: {sorted(tree(inbox))}"
    errors = [line for line in watcher.text().splitlines() if line.startswith("ERROR")]
    assert not errors, f"a file still being written is no failure: {errors}"
    assert watcher.alive(), watcher.text()


@pytest.mark.timeout(60)
def test_chunked_local_writer_lands_once(tmp_path: Path, start_watch: WatchStarter) -> None:
    """Provider ``local``: a writer appends 6 chunks 0.6 s apart into the remote ``_outbox`` (one
    open file, flushed each time): one complete copy lands and the outbox is emptied after."""
    cloud = tmp_path / "cloud"
    config = gateway(tmp_path, "local", {"path": str(cloud)})
    outbox, inbox = cloud / "share" / "_outbox", tmp_path / "ws" / "shared" / "_inbox"
    watcher = start_watch(config)
    ready_outbox(watcher, outbox)
    chunks = [payload(64 * 1024) for _ in range(6)]
    with (outbox / NAME).open("wb") as fh:
        for k, chunk in enumerate(chunks):
            if k:
                time.sleep(0.6)  # the writer's pace, not a synchronisation
            fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
    assert_one_complete_copy(watcher, inbox, outbox, b"".join(chunks))


@pytest.mark.timeout(60)
def test_openssh_sftp_slow_put_lands_once(
    tmp_path: Path, sshd: SshServer, start_watch: WatchStarter
) -> None:
    """OpenSSH: ``sftp -l 2400 put`` (300 kB/s) of 1.5 MB into the gateway's remote ``_outbox``
    on a real sshd, which writes the upload in place: one complete copy, no partial ones, and
    the remote outbox emptied."""
    config = gateway(tmp_path, "custom", custom("sftp", sshd.rclone_options()))
    outbox, inbox = sshd.root / "share" / "_outbox", tmp_path / "ws" / "shared" / "_inbox"
    watcher = start_watch(config)
    ready_outbox(watcher, outbox)
    data = payload(1536 * 1024)
    (tmp_path / "upload.bin").write_bytes(data)
    batch = tmp_path / "put.batch"
    batch.write_text(f'put "{tmp_path / "upload.bin"}" "share/_outbox/{NAME}"\n', encoding="utf-8")
    probe = Probe(outbox / NAME)
    started = time.monotonic()
    with subprocess.Popen(
        sshd.sftp_argv(batch, limit_kbit=2400), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        while proc.poll() is None and time.monotonic() - started < 45:
            probe.sample()
            time.sleep(0.1)  # sampling the server's file, not a synchronisation
        proc.kill()  # no-op once it has exited; bounds a hung upload
        _, err = proc.communicate()
    took = time.monotonic() - started
    assert proc.returncode == 0, err.decode(errors="replace")
    assert took > 3, f"the upload took {took:.1f} s: too fast to be half-written when polled"
    probe.check_in_place(len(data))
    assert_one_complete_copy(watcher, inbox, outbox, data)


def paced_body(chunks: list[bytes], probe: Probe) -> Iterator[bytes]:
    """Yield ``chunks`` 0.6 s apart, sampling the server's file before each one."""
    for k, chunk in enumerate(chunks):
        if k:
            time.sleep(0.6)  # the uploader's pace, not a synchronisation
        probe.sample()
        yield chunk


@pytest.mark.timeout(60)
def test_webdav_paced_put_lands_once(
    tmp_path: Path, dav: DavServer, start_watch: WatchStarter
) -> None:
    """wsgidav: a chunked PUT paced by the test (8 × 128 kB, 0.6 s apart) into the gateway's
    ``_outbox``: the uploader gets 201/204, the file is never deleted mid-upload, and one
    complete copy lands."""
    config = gateway(tmp_path, "custom", custom("webdav", dav.rclone_options()))
    outbox, inbox = dav.root / "share" / "_outbox", tmp_path / "ws" / "shared" / "_inbox"
    watcher = start_watch(config)
    ready_outbox(watcher, outbox)
    chunks = [payload(128 * 1024) for _ in range(8)]
    probe = Probe(outbox / NAME)
    auth = base64.b64encode(f"{DAV_USER}:{DAV_PASS}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", dav.port, timeout=30)
    try:
        conn.request(
            "PUT",
            f"/share/_outbox/{NAME}",
            body=paced_body(chunks, probe),
            headers={"Authorization": f"Basic {auth}"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status in (201, 204), response.status
    probe.check_in_place(len(b"".join(chunks)))
    assert not probe.vanished(), f"the file was deleted mid-upload (sizes seen {probe.sizes})"
    assert_one_complete_copy(watcher, inbox, outbox, b"".join(chunks))


class PacedReader:
    """A file-like source for ``ftplib.storbinary`` that hands out one chunk per read, 0.6 s
    apart."""

    def __init__(self, chunks: list[bytes], probe: Probe) -> None:
        self.chunks = list(chunks)
        self.probe = probe
        self.first = True

    def read(self, _size: int = -1) -> bytes:
        if not self.chunks:
            return b""
        if not self.first:
            time.sleep(0.6)  # the uploader's pace, not a synchronisation
        self.first = False
        self.probe.sample()
        return self.chunks.pop(0)


@pytest.mark.timeout(60)
def test_ftp_paced_stor_lands_once(
    tmp_path: Path, ftpd: FtpServer, start_watch: WatchStarter
) -> None:
    """pyftpdlib: a STOR paced by the test (8 × 128 kB, 0.6 s apart) into the gateway's
    ``_outbox``: one complete copy lands, no partial ones, the outbox is emptied."""
    config = gateway(tmp_path, "custom", custom("ftp", ftpd.rclone_options()))
    outbox, inbox = ftpd.root / "share" / "_outbox", tmp_path / "ws" / "shared" / "_inbox"
    # The remote root does not exist yet: pyftpdlib answers its listing with 501, which the
    # daemon's first cycle reads as "not found" and creates it (issue 15).
    watcher = start_watch(config)
    ready_outbox(watcher, outbox)
    chunks = [payload(128 * 1024) for _ in range(8)]
    probe = Probe(outbox / NAME)
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", ftpd.port, timeout=30)
        ftp.login(FTP_USER, FTP_PASS)
        ftp.storbinary(f"STOR share/_outbox/{NAME}", PacedReader(chunks, probe))
    probe.check_in_place(len(b"".join(chunks)))
    assert_one_complete_copy(watcher, inbox, outbox, b"".join(chunks))
