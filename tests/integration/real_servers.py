"""The four real third-party servers of ``test_real_servers.py`` as workspace-sync remotes: moto's
S3 server, OpenSSH ``sshd`` (SFTP), wsgidav (WebDAV) and pyftpdlib (FTP), each started once per
test worker (a session fixture) and given a fresh remote root per test: a new bucket on moto, a
new folder on the others. :class:`Remote` is a second client's view of that remote root (what
another uploader or the gateway sees): ``tree`` and ``put`` (with an mtime)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tree, write_config
from tests.servers import (
    MotoServer,
    ServerUnavailable,
    start_ftp,
    start_moto,
    start_sshd,
    start_wsgidav,
)

SERVERS = ("moto", "sshd", "wsgidav", "ftp")
_ROOTS = itertools.count(1)


class Remote:
    """One test's remote root on a real server, seen by a second client."""

    name: str

    def table(self) -> tuple[str, dict[str, Any]]:
        """``(provider, provider table)`` of a workspace-sync config for this remote."""
        raise NotImplementedError

    @property
    def remote_path(self) -> str:
        raise NotImplementedError

    @property
    def backup_path(self) -> str:
        """A ``[backup] remote_path`` of this test only, beside the remote root."""
        raise NotImplementedError

    def tree(self, sub: str = "") -> dict[str, bytes]:
        """``{path: content}`` of every file under the remote root (or its folder ``sub``)."""
        raise NotImplementedError

    def put(self, files: Mapping[str, bytes | str], mtime: float | None = None) -> None:
        """Write ``files`` (paths relative to the remote root) as another client would."""
        raise NotImplementedError

    def backup_files(self) -> dict[str, bytes]:
        """Every object of the backup folder (encrypted names and contents)."""
        raise NotImplementedError


def _data(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


@dataclass
class DiskRemote(Remote):
    """A folder a file server (sshd, wsgidav, pyftpdlib) serves from this machine's disk; the
    second client writes that disk (what the server then lists is what it serves)."""

    name: str
    rclone_type: str
    options: dict[str, Any]
    served: Path  # the server's root folder
    prefix: str  # this test's folder in it (not created: a first sync finds no remote root)

    def table(self) -> tuple[str, dict[str, Any]]:
        return "custom", {"rclone_type": self.rclone_type, "rclone_options": dict(self.options)}

    @property
    def remote_path(self) -> str:
        return f"{self.prefix}/share"

    @property
    def backup_path(self) -> str:
        return f"{self.prefix}/backup"

    @property
    def root(self) -> Path:
        return self.served / self.remote_path

    def tree(self, sub: str = "") -> dict[str, bytes]:
        return tree(self.root / sub if sub else self.root)

    def put(self, files: Mapping[str, bytes | str], mtime: float | None = None) -> None:
        for rel, body in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_data(body))
            if mtime is not None:
                os.utime(path, (mtime, mtime))

    def backup_files(self) -> dict[str, bytes]:
        return tree(self.served / self.backup_path)


@dataclass
class BucketRemote(Remote):
    """A fresh bucket on moto's S3 server; the second client is boto3."""

    name: str
    server: MotoServer
    bucket: str
    client: Any = field(init=False)

    def __post_init__(self) -> None:
        self.server.make_bucket(self.bucket)
        self.client = self.server.client()

    def table(self) -> tuple[str, dict[str, Any]]:
        return "s3", self.server.s3_options(self.bucket)

    @property
    def remote_path(self) -> str:
        return "share"

    @property
    def backup_path(self) -> str:
        return "backup"

    def _objects(self, prefix: str) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for item in page.get("Contents", []):
                try:
                    body = self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"]
                except self.client.exceptions.NoSuchKey:
                    continue  # deleted since the listing (a running daemon moved it)
                found[item["Key"][len(prefix) :]] = body.read()
        return found

    def tree(self, sub: str = "") -> dict[str, bytes]:
        return self._objects(f"share/{sub.strip('/')}/" if sub else "share/")

    def put(self, files: Mapping[str, bytes | str], mtime: float | None = None) -> None:
        meta = {} if mtime is None else {"mtime": f"{mtime:.9f}"}  # rclone's modtime metadata
        for rel, body in files.items():
            key = f"share/{rel}"
            self.client.put_object(Bucket=self.bucket, Key=key, Body=_data(body), Metadata=meta)

    def backup_files(self) -> dict[str, bytes]:
        return self._objects("backup/")


@dataclass
class Pool:
    """The servers of one test worker, each started on first use; a server that cannot start
    is remembered with its reason (every test on it is skipped with that reason)."""

    base: Path
    started: dict[str, Any] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        """The running server ``name``; skips the test (reason printed) when it cannot run."""
        if name not in self.started and name not in self.missing:
            try:
                self.started[name] = self._start(name)
            except ServerUnavailable as exc:
                self.missing[name] = str(exc)
        if name in self.missing:
            pytest.skip(f"{name}: {self.missing[name]}")
        return self.started[name]

    def _start(self, name: str) -> Any:
        base = self.base / name
        if name == "moto":
            return start_moto(base)
        if name == "sshd":  # no sshd or ssh-keygen: ServerUnavailable naming the package
            return start_sshd(base / "conf", base / "root")
        if name == "wsgidav":
            return start_wsgidav(base / "root")
        return start_ftp(base / "root")

    def stop(self) -> None:
        """Stop every server started."""
        for server in self.started.values():
            server.stop()


@pytest.fixture(name="server_pool", scope="session")
def server_pool_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    """The real servers of this worker (started lazily, stopped at the end of the session)."""
    pool = Pool(tmp_path_factory.mktemp("real-servers"))
    yield pool
    pool.stop()


RCLONE_TYPES = {"sshd": "sftp", "wsgidav": "webdav", "ftp": "ftp"}


@pytest.fixture(name="real_server", params=SERVERS)
def real_server_fixture(request: pytest.FixtureRequest, server_pool: Pool) -> Remote:
    """A fresh remote root on one of the four real servers (ids ``moto``, ``sshd``,
    ``wsgidav``, ``ftp``); skipped, with the reason, when that server cannot run here."""
    name: str = request.param
    server = server_pool.get(name)
    n = next(_ROOTS)
    if name == "moto":
        return BucketRemote(name, server, f"ws-test-{os.getpid()}-{n}")
    return DiskRemote(name, RCLONE_TYPES[name], server.rclone_options(), server.root, f"t{n}")


@dataclass
class Case:
    """A test's workspace and config on a :class:`Remote`."""

    workspace: Path
    config: Path
    remote: Remote

    @property
    def sync_root(self) -> Path:
        return self.workspace / "shared"


def make_case(remote: Remote, tmp_path: Path, mode: str, **overrides: Any) -> Case:
    """A ``mode`` config on ``remote``: sync root ``ws/shared`` (created), remote root
    ``remote.remote_path``, inbound files taken at once (``outbox_settle = 0``)."""
    workspace = tmp_path / "ws"
    (workspace / "shared").mkdir(parents=True, exist_ok=True)
    provider, table = remote.table()
    data: dict[str, Any] = {
        "workspace": str(workspace),
        "mode": mode,
        "provider": provider,
        provider: table,
        "remote_path": remote.remote_path,
        "local_path": "shared",
        "outbox_settle": 0,
        "exclude": ["**/.DS_Store", "*.tmp"],
        **overrides,
    }
    return Case(workspace, write_config(tmp_path / "sync.toml", data), remote)
