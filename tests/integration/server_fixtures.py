"""Fixtures for the real third-party servers of :mod:`tests.servers` (re-exported by this
folder's ``conftest.py``): each starts a server for one test, skips the test with the reason
when the server cannot start, and stops it afterwards."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from tests.servers import (
    APT_SSH,
    DavServer,
    FtpServer,
    ServerUnavailable,
    SshServer,
    start_ftp,
    start_sshd,
    start_wsgidav,
)


class _Stoppable(Protocol):
    def stop(self) -> None: ...


S = TypeVar("S", bound=_Stoppable)


def serve(start: Callable[[], S]) -> Iterator[S]:
    """Start a server for a fixture, skip the test with its reason when it cannot start, and
    stop it afterwards."""
    try:
        server = start()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    """A private OpenSSH sshd (SFTP only) rooted at ``tmp_path/sftproot``; skipped when it or
    the ``sftp`` client is absent."""
    if shutil.which("sftp") is None:
        pytest.skip(f"openssh-client (sftp) not installed: {APT_SSH}")
    yield from serve(lambda: start_sshd(tmp_path / "sshd", tmp_path / "sftproot"))


@pytest.fixture
def dav(tmp_path: Path) -> Iterator[DavServer]:
    """A wsgidav WebDAV server serving ``tmp_path/davroot``; skipped when absent."""
    yield from serve(lambda: start_wsgidav(tmp_path / "davroot"))


@pytest.fixture
def ftpd(tmp_path: Path) -> Iterator[FtpServer]:
    """A pyftpdlib FTP server serving ``tmp_path/ftproot``; skipped when absent."""
    yield from serve(lambda: start_ftp(tmp_path / "ftproot"))
