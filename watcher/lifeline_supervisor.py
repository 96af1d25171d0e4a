"""A tiny supervisor that makes one command die with the process that started it.

Run as a script (standard library only, so it starts fast and needs no site-packages)::

    python -I -S lifeline_supervisor.py LIFE_FD GRACE TOKEN -- PROGRAM [ARG...]

It must be started as the leader of a new process group (``start_new_session``); PROGRAM runs
in that group with this process's stdin, stdout, stderr, working directory and environment.
``LIFE_FD`` is the read end of a pipe whose write end only the starting process holds: EOF on it
means that process is gone (even after kill -9), and the whole group is stopped: SIGTERM, then
SIGKILL after ``GRACE`` seconds. SIGTERM or SIGHUP to this process stops the group the same way.

When PROGRAM exits by itself, whatever it left running in the group gets SIGTERM and this
process exits with PROGRAM's status (re-raising its signal when it was killed by one). When
PROGRAM cannot be started, one line ``TOKEN<reason>`` goes to stderr and the exit code is
:data:`CANNOT_RUN`.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys

#: Exit code when the command could not be started (as shells use for "command not found").
CANNOT_RUN = 127
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _signal_group(sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(os.getpgrp(), sig)


def stop_group(child: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the whole group (this process only notes it), up to ``grace`` seconds for
    ``child`` to exit, else SIGKILL to it (reaped, so it is gone before this process is), then
    SIGKILL to the whole group, this process included."""
    _signal_group(signal.SIGTERM)
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    _signal_group(signal.SIGKILL)


def _wait(child: subprocess.Popen[bytes], life: int, wake: int) -> bool:
    """Wait until ``child`` exits (True) or a stop is due (False): EOF on ``life`` or a stop
    signal."""
    while child.poll() is None:
        ready, _, _ = select.select([life, wake], [], [])
        if life in ready and not os.read(life, 512):
            return False
        if wake in ready:
            received = os.read(wake, 512)
            if any(sig in received for sig in _STOP_SIGNALS):
                return False
    return True


def _exit_like(returncode: int) -> int:
    """The exit code to report PROGRAM's ``returncode``; dies of its signal when it had one."""
    if returncode >= 0:
        return returncode
    sig = -returncode
    with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP keep their default
        signal.signal(sig, signal.SIG_DFL)
    with contextlib.suppress(OSError):
        os.kill(os.getpid(), sig)
    return 128 + sig


def main(argv: list[str]) -> int:
    """Supervise ``argv`` = ``LIFE_FD GRACE TOKEN -- PROGRAM [ARG...]``; returns the exit code."""
    life, grace, token = int(argv[0]), float(argv[1]), argv[2]
    command = argv[4:] if argv[3:4] == ["--"] else argv[3:]
    os.set_inheritable(life, False)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for sig in (signal.SIGCHLD, *_STOP_SIGNALS):
        signal.signal(sig, lambda *_: None)  # noted through the wakeup fd
    try:
        child = subprocess.Popen(command)  # close_fds: PROGRAM gets neither pipe
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        sys.stderr.write(f"{token}{reason}\n")
        return CANNOT_RUN
    if not _wait(child, life, wake_r):
        stop_group(child, grace)
        return 1  # not reached: SIGKILL of the group ends this process too
    _signal_group(signal.SIGTERM)  # what PROGRAM left running goes with it
    return _exit_like(child.returncode)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
