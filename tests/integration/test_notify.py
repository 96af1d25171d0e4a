"""systemd's notify protocol for real: ``watch`` under a NOTIFY_SOCKET (a datagram socket this
test binds, as systemd does) sends READY=1, then WATCHDOG=1 every WatchdogSec/3, and STOPPING=1
on SIGTERM."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_until


@pytest.fixture
def notify_socket() -> Iterator[socket.socket]:
    """A datagram socket at a short path under /tmp (AF_UNIX paths must stay < 108 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="ws-n", dir="/tmp"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(folder / "n"))
    sock.settimeout(0.1)
    yield sock
    sock.close()
    shutil.rmtree(folder, ignore_errors=True)


def _receive(sock: socket.socket, into: list[tuple[float, str]]) -> None:
    try:
        while True:
            into.append((time.monotonic(), sock.recv(4096).decode()))
    except (TimeoutError, BlockingIOError):
        return


def test_watch_sends_ready_watchdog_and_stopping(
    make_setup, start_watch, notify_socket, monkeypatch
):
    setup = make_setup("mailbox", debounce=0.2)
    setup.sync_root.mkdir(parents=True)
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.getsockname())
    monkeypatch.setenv("WATCHDOG_USEC", "1500000")  # WatchdogSec=1.5: a ping every 0.5 s
    watcher = start_watch(setup.config, ready="")
    got: list[tuple[float, str]] = []

    def pings() -> int:
        _receive(notify_socket, got)
        return sum(1 for _, m in got if m == "WATCHDOG=1")

    wait_until(lambda: pings() >= 4, timeout=20)
    messages = [m for _, m in got]
    assert messages[0].startswith("READY=1"), messages
    first_ping = next(t for t, m in got if m == "WATCHDOG=1")
    assert sum(1 for t, m in got if m == "WATCHDOG=1" and t - first_ping < 1.2) <= 4, got
    assert watcher.stop() == 0
    _receive(notify_socket, got)
    assert got[-1][1] == "STOPPING=1", got
    assert [m for _, m in got].count("READY=1\nSTATUS=watching") == 1
