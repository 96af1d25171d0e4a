"""Hostile environments for the notify client (watcher.daemon.notify), against real datagram
sockets: garbage in WATCHDOG_USEC or NOTIFY_SOCKET, a missing or too long socket path, and a
receiver that never reads never crash the daemon or block its event loop."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from watcher.daemon.notify import Notifier


@pytest.mark.parametrize("usec", ["²", "٣", "1e6", "-5", " 60000000", "0", "x" * 100])
def test_garbage_watchdog_usec_means_no_watchdog_or_a_sane_one(usec: str) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": usec})
    assert notifier.interval is None or notifier.interval > 0


@pytest.mark.parametrize("value", ["@\udcff\udcfe", "/tmp/\udcff/n", "@", "relative", "/" * 200])
def test_garbage_notify_socket_never_raises(value: str) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": value, "WATCHDOG_USEC": "60000000"})
    notifier.ready()
    assert not notifier.send("WATCHDOG=1")  # nobody listens there


def test_missing_and_too_long_socket_paths_fail_quietly(tmp_path: Path) -> None:
    assert not Notifier({"NOTIFY_SOCKET": str(tmp_path / "missing")}).send("READY=1")
    long_path = "/tmp/" + "d" * 120 + "/n"
    assert not Notifier({"NOTIFY_SOCKET": long_path}).send("READY=1")


def test_a_receiver_that_never_reads_does_not_block_the_sender() -> None:
    """A datagram socket whose queue is full (nobody reads it) makes a blocking ``sendto``
    wait for ever: the watchdog task would wedge the daemon's event loop. (Old code: the
    sender thread was still blocked after 3 s.)"""
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        path = str(Path(folder) / "n")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            notifier = Notifier({"NOTIFY_SOCKET": path})
            sent: list[bool] = []
            thread = threading.Thread(
                target=lambda: sent.extend(notifier.send("WATCHDOG=1") for _ in range(500)),
                daemon=True,
            )
            started = time.monotonic()
            thread.start()
            thread.join(timeout=3)
            assert not thread.is_alive(), "send() blocked on a full socket queue"
            assert time.monotonic() - started < 3
            assert sent[0] and not all(sent)  # the first went through, later ones were dropped
