"""The notify client (watcher.daemon.notify) against a real datagram socket: addresses, the
watchdog interval from WATCHDOG_USEC, and no ping while the event loop is wedged."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

import anyio

from watcher.daemon.notify import Notifier


def _socket(name: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(name)
    sock.settimeout(1)
    return sock


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert notifier.interval is None and not notifier.send("READY=1")


def test_path_and_abstract_socket() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        path = str(Path(folder) / "n")
        with _socket(path) as sock:
            assert Notifier({"NOTIFY_SOCKET": path}).send("READY=1")
            assert sock.recv(100) == b"READY=1"
    name = f"ws-test-{os.getpid()}-{time.monotonic_ns()}"
    with _socket(b"\0" + name.encode()) as sock:
        Notifier({"NOTIFY_SOCKET": "@" + name}).stopping()
        assert sock.recv(100) == b"STOPPING=1"


def test_watchdog_interval_is_a_third_of_watchdog_usec_for_this_pid_only() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "60000000"}
    assert Notifier(env).interval == 20.0
    assert Notifier({**env, "WATCHDOG_PID": str(os.getpid())}).interval == 20.0
    assert Notifier({**env, "WATCHDOG_PID": "1"}).interval is None
    assert Notifier({**env, "WATCHDOG_USEC": "x"}).interval is None
    assert Notifier({"WATCHDOG_USEC": "60000000"}).interval is None


def test_a_wedged_loop_sends_no_watchdog_ping() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        path = str(Path(folder) / "n")
        with _socket(path) as sock:
            sock.setblocking(False)
            notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "150000"})  # 50 ms
            seen: list[float] = []

            def drain() -> None:
                while True:
                    try:
                        sock.recv(100)
                    except BlockingIOError:
                        return
                    seen.append(time.monotonic())

            async def main() -> tuple[float, float]:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(notifier.watchdog)
                    await anyio.sleep(0.3)
                    drain()
                    wedged = time.monotonic()
                    time.sleep(0.6)  # the loop is wedged: no task runs
                    drain()
                    tg.cancel_scope.cancel()
                return wedged, time.monotonic()

            wedged, _ = anyio.run(main)
            assert len([t for t in seen if t < wedged]) >= 3
            assert not [t for t in seen if t > wedged]
