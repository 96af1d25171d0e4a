"""A tiny supervisor that makes one command die with the process that started it.

Run as a script (standard library only, so it starts fast and needs no site-packages)::

    python -I -S lifeline_supervisor.py LIFE_FD GRACE TOKEN -- PROGRAM [ARG...]

It must be started as the leader of a new process group (``start_new_session``); PROGRAM runs
in that group with this process's stdin, stdout, stderr, working directory and environment.
``LIFE_FD`` is the read end of a pipe whose write end only the starting process holds: EOF on it
means that process is gone (even after kill -9), and the whole group is stopped: SIGTERM, then
SIGKILL after ``GRACE`` seconds. SIGTERM or SIGHUP to this process stops the group the same way.

When PROGRAM exits by itself, this process exits with PROGRAM's status (re-raising its signal
when it was killed by one); what PROGRAM deliberately left running in the background is not
stopped (a hook may hand long work off to a background job). When
PROGRAM cannot be started, one line ``TOKEN<reason>`` goes to stderr and the exit code is
:data:`CANNOT_RUN`.
"""

import os
import select
import sys
import time

try:  # the C module: ``signal`` would import enum, the bulk of this script's start-up time
    import _signal as signal  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - not CPython
    import signal

#: Exit code when the command could not be started (as shells use for "command not found").
CANNOT_RUN = 127
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class _Child:
    """The supervised command (``os.posix_spawnp``: no ``subprocess`` import to pay for) and the
    self-pipe its SIGCHLD and the stop signals are noted on."""

    def __init__(self, pid: int, wake: int) -> None:
        self.pid = pid
        self.wake = wake
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit status (negative: killed by that signal) once the command has exited."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for the command to exit (woken by SIGCHLD)."""
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if select.select([self.wake], [], [], min(left, 0.1))[0]:
                os.read(self.wake, 512)
        return self.returncode


def _signal_group(sig: int) -> None:
    try:  # noqa: SIM105 (no contextlib: it costs start-up time)
        os.killpg(os.getpgrp(), sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(child: _Child, grace: float) -> None:
    """SIGTERM to the whole group (this process only notes it), up to ``grace`` seconds for
    ``child`` to exit, else SIGKILL to it (reaped, so it is gone before this process is), then
    SIGKILL to the whole group, this process included."""
    _signal_group(signal.SIGTERM)
    if child.wait(grace) is None:
        os.kill(child.pid, signal.SIGKILL)
        while child.wait(1.0) is None:
            pass
    _signal_group(signal.SIGKILL)


def _wait(child: _Child, life: int) -> bool:
    """Wait until ``child`` exits (True) or a stop is due (False): EOF on ``life`` or a stop
    signal."""
    while child.poll() is None:
        ready, _, _ = select.select([life, child.wake], [], [])
        if life in ready and not os.read(life, 512):
            return False
        if child.wake in ready:
            received = os.read(child.wake, 512)
            if any(sig in received for sig in _STOP_SIGNALS):
                return False
    return True


def _exit_like(returncode: int) -> int:
    """The exit code to report PROGRAM's ``returncode``; dies of its signal when it had one."""
    if returncode >= 0:
        return returncode
    sig = -returncode
    try:  # noqa: SIM105 (SIGKILL and SIGSTOP keep their default)
        signal.signal(sig, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), sig)
    return 128 + sig


def _lead_group() -> bool:
    """Make sure this process leads its process group (never stop someone else's group)."""
    if os.getpgrp() != os.getpid():
        try:  # noqa: SIM105
            os.setpgid(0, 0)
        except OSError:
            pass
    return os.getpgrp() == os.getpid()


def _spawn(command: list[str], wake: int) -> _Child:
    """Start ``command`` with default signal handling (also SIGPIPE and SIGXFSZ, which Python
    ignores, as ``subprocess`` restores them); it inherits no descriptor beyond 0-2 (every
    other one here is close-on-exec)."""
    defaults = (signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, *_STOP_SIGNALS)
    pid = os.posix_spawnp(command[0], command, os.environ, setsigdef=defaults)
    return _Child(pid, wake)


def main(argv: list[str]) -> int:
    """Supervise ``argv`` = ``LIFE_FD GRACE TOKEN -- PROGRAM [ARG...]``; returns the exit code."""
    life, grace, token = int(argv[0]), float(argv[1]), argv[2]
    command = argv[4:] if argv[3:4] == ["--"] else argv[3:]
    os.set_inheritable(life, False)
    if not _lead_group() or not command:
        sys.stderr.write(f"{token}the supervisor cannot lead a process group\n")
        return CANNOT_RUN
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for sig in (signal.SIGCHLD, *_STOP_SIGNALS):
        signal.signal(sig, lambda *_: None)  # noted through the wakeup fd
    try:
        child = _spawn(command, wake_r)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        sys.stderr.write(f"{token}{reason}\n")
        return CANNOT_RUN
    if not _wait(child, life):
        stop_group(child, grace)
        return 1  # not reached: SIGKILL of the group ends this process too
    return _exit_like(child.poll() or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
