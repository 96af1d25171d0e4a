"""systemd's notify protocol (``Type=notify``, ``WatchdogSec=``), without a library: one
datagram per message on the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` means
the abstract namespace). Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing.

The watchdog ping runs as a task of the daemon's event loop, never on a thread of its own: a
wedged loop stops pinging, and systemd restarts the service after ``WatchdogSec``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import anyio
from loguru import logger

#: Pings per watchdog period (systemd's advice: at least twice per ``WatchdogSec``).
PINGS_PER_PERIOD = 3


def _address(value: str) -> str | bytes | None:
    """The socket address of ``$NOTIFY_SOCKET``: a path, or bytes for the abstract namespace."""
    if value.startswith("@"):
        return b"\0" + os.fsencode(value[1:])  # names that are not UTF-8 come surrogate-escaped
    if value.startswith("/"):
        return value
    return None  # vsock and other kinds are not supported


class Notifier:
    """Sends ``READY=1``, ``WATCHDOG=1``, ``RELOADING=1`` and ``STOPPING=1`` to systemd."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        #: Seconds between watchdog pings, ``None`` when systemd asked for none.
        self.interval: float | None = None
        usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        ours = not pid or pid == str(os.getpid())  # WATCHDOG_PID names the watched process
        digits = usec.isascii() and usec.isdigit()  # "²".isdigit() is True, int() fails on it
        if self.address is not None and digits and int(usec) > 0 and ours:
            self.interval = int(usec) / 1e6 / PINGS_PER_PERIOD

    def send(self, message: str) -> bool:
        """Send one datagram (e.g. ``"READY=1"``); False when not under systemd or it failed
        (logged at DEBUG: syncing goes on). Never blocks: a receiver whose queue is full (it
        does not read) gets the datagram dropped instead of wedging the event loop."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), socket.MSG_DONTWAIT, self.address)
        except (OSError, ValueError) as exc:
            logger.debug("systemd notify {!r} failed: {}", message, exc)
            return False
        return True

    def ready(self) -> None:
        """The daemon is up: observers run and the first full cycle is asked for."""
        self.send("READY=1\nSTATUS=watching")

    def reloading(self) -> None:
        """A new config is being switched to (``READY=1`` follows)."""
        self.send("RELOADING=1")

    def stopping(self) -> None:
        """The daemon is shutting down."""
        self.send("STOPPING=1")

    async def watchdog(self) -> None:
        """Ping ``WATCHDOG=1`` every :attr:`interval` seconds from the event loop, forever (returns
        at once when systemd asked for no watchdog)."""
        if self.interval is None:
            return
        while True:
            self.send("WATCHDOG=1")
            await anyio.sleep(self.interval)
