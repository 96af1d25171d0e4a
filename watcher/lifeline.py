"""Start a command that dies with this process, its children included.

The command runs under :mod:`watcher.lifeline_supervisor` (a standard-library-only script run
with ``sys.executable``), which leads a new process group, starts the command in it and stops
the whole group (SIGTERM, then SIGKILL after a grace period) as soon as this process is gone:
it holds the read end of a pipe whose write end only this process holds, so even after kill -9
the supervisor sees EOF at once. The write end is close-on-exec, so no other child (rclone, a
second hook) inherits it and keeps the supervisor waiting. This works wherever pipes and
process groups do (Linux, macOS); no parent-death signal is needed, and none of its trap (it
fires when the spawning *thread* ends) applies.

stdin, stdout and stderr pass through to the command; the supervisor exits with the command's
status (a background job the command left behind when it exited is not its business any more).
A command that cannot be started is reported by :meth:`Lifeline.cannot_run`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from anyio.abc import Process

from watcher.lifeline_supervisor import CANNOT_RUN

SUPERVISOR = Path(__file__).with_name("lifeline_supervisor.py")
#: Extra seconds a caller stopping the supervisor should allow on top of the grace period, so
#: that the supervisor, not the caller's SIGKILL, ends the group (its command reaped first).
STOP_MARGIN = 1.0


@dataclass
class Lifeline:
    """A command started by :func:`open_lifeline`: ``process`` is its supervisor, the leader of
    the command's process group."""

    process: Process
    token: str
    life_fd: int | None = field(default=None, repr=False)

    def cannot_run(self, stderr: bytes) -> str | None:
        """Why the command could not be started (``No such file or directory``…), from the
        supervisor's exit code and the start of its ``stderr``; None when it ran."""
        marker = self.token.encode()
        if self.process.returncode != CANNOT_RUN or not stderr.startswith(marker):
            return None
        return stderr[len(marker) :].decode(errors="replace").splitlines()[0].strip()

    def release(self) -> None:
        """Close our end of the lifeline (idempotent): a supervisor still running stops its
        group as if this process had died."""
        if self.life_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.life_fd)
            self.life_fd = None


async def open_lifeline(
    argv: Sequence[str],
    *,
    grace: float,
    stdin: int,
    stdout: int,
    stderr: int,
    cwd: Path | None,
    env: Mapping[str, str],
) -> Lifeline:
    """Start ``argv`` under the supervisor in a new session; ``grace`` is the time between
    SIGTERM and SIGKILL when the group is stopped. Raises OSError / ValueError only when the
    supervisor itself cannot start (a missing program is reported by
    :meth:`Lifeline.cannot_run`). The caller must :meth:`Lifeline.release` it."""
    token = f"lifeline-{secrets.token_hex(8)}: "
    read_fd, write_fd = os.pipe()  # both close-on-exec; the supervisor gets read_fd only
    supervisor = [sys.executable, "-I", "-S", str(SUPERVISOR), str(read_fd), repr(grace), token]
    try:
        process = await anyio.open_process(
            [*supervisor, "--", *argv],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=env,
            start_new_session=True,
            pass_fds=(read_fd,),
        )
    except BaseException:
        os.close(write_fd)
        raise
    finally:
        os.close(read_fd)
    return Lifeline(process, token, write_fd)
