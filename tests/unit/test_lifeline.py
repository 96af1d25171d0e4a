"""The lifeline supervisor with real child processes: stdin/stdout/stderr pass through, the exit
status (also death by a signal) comes back, a missing program is reported, neither pipe end
leaks into the command or into another child, and closing the lifeline (what the kernel does
when the tool dies) stops the whole group, also a member that ignores SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import anyio
import pytest

from tests.conftest import wait_until
from watcher.lifeline import Lifeline, open_lifeline

T = TypeVar("T")
linux_only = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")


def _run(func: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(func)


async def _start(argv: list[str], grace: float = 5.0, stdin: int = subprocess.PIPE) -> Lifeline:
    return await open_lifeline(
        argv,
        grace=grace,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=None,
        env=dict(os.environ),
    )


async def _finish(line: Lifeline, data: bytes = b"") -> tuple[bytes, bytes]:
    """Send ``data``, read both outputs to EOF, wait for the exit, release the lifeline."""
    process = line.process
    assert process.stdout and process.stderr
    try:
        if process.stdin is not None:
            # A command that ignores stdin may have exited already (a broken pipe then).
            with contextlib.suppress(anyio.BrokenResourceError):
                await process.stdin.send(data)
            await process.stdin.aclose()
        out = b"".join([chunk async for chunk in process.stdout])
        err = b"".join([chunk async for chunk in process.stderr])
        await process.wait()
        return out, err
    finally:
        line.release()
        await process.aclose()


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


ECHO = (
    "import sys; data = sys.stdin.buffer.read(); sys.stdout.buffer.write(data[::-1]); "
    "print('to stderr', file=sys.stderr); sys.exit(int(sys.argv[1]))"
)


@pytest.mark.parametrize("code", [0, 3])
def test_streams_pass_through_and_exit_code_comes_back(code: int) -> None:
    async def main() -> tuple[int | None, bytes, bytes, str | None]:
        line = await _start([sys.executable, "-c", ECHO, str(code)])
        out, err = await _finish(line, b"abc\n")
        return line.process.returncode, out, err, line.cannot_run(err)

    returncode, out, err, reason = _run(main)
    assert (returncode, out, err.strip(), reason) == (code, b"\ncba", b"to stderr", None)


def test_death_by_signal_comes_back_as_that_signal() -> None:
    async def main() -> int | None:
        line = await _start([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"])
        await _finish(line)
        return line.process.returncode

    assert _run(main) == -signal.SIGKILL


@pytest.mark.parametrize("what", ["missing", "not-executable"])
def test_program_that_cannot_start_is_reported(tmp_path: Path, what: str) -> None:
    program = tmp_path / "hook.sh"
    if what == "not-executable":
        program.write_text("#!/bin/sh\n", encoding="utf-8")

    async def main() -> tuple[str | None, int | None]:
        line = await _start([str(program), "secret-arg"])
        _, err = await _finish(line, b"[]")
        return line.cannot_run(err), line.process.returncode

    reason, code = _run(main)
    expected = "No such file or directory" if what == "missing" else "Permission denied"
    assert (reason, code) == (expected, 127)


@linux_only
def test_no_pipe_end_leaks_into_the_command_or_other_children() -> None:
    """The command sees only stdin/stdout/stderr; a child started meanwhile (as rclone is)
    does not hold the lifeline's write end, which would keep the supervisor waiting."""
    show_fds = "import os; print(sorted(os.listdir('/proc/self/fd')))"

    async def main() -> tuple[bytes, list[str], str]:
        line = await _start([sys.executable, "-c", show_fds])
        assert line.life_fd is not None
        pipe = os.readlink(f"/proc/self/fd/{line.life_fd}")
        other = await anyio.open_process(["sleep", "30"], stdin=subprocess.DEVNULL)
        try:
            # between fork and exec the child still holds every descriptor (close_fds
            # closes them just before exec): look once it runs ``sleep``
            cmdline = Path(f"/proc/{other.pid}/cmdline")
            await anyio.to_thread.run_sync(
                lambda: wait_until(lambda: cmdline.read_bytes().startswith(b"sleep"))
            )
            held = [os.readlink(p) for p in Path(f"/proc/{other.pid}/fd").iterdir()]
        finally:
            other.kill()
            await other.aclose()
        out, _ = await _finish(line)
        return out, held, pipe

    out, held, pipe = _run(main)
    # listdir's own descriptor shows up as a fourth entry
    assert out.strip() in (b"['0', '1', '2']", b"['0', '1', '2', '3']"), out
    assert pipe.startswith("pipe:") and pipe not in held


@linux_only
@pytest.mark.parametrize("ignore_term", [False, True])
def test_releasing_the_lifeline_stops_the_whole_group(tmp_path: Path, ignore_term: bool) -> None:
    """What happens when the tool dies: the write end closes; the command and the child it
    started are stopped (SIGKILL after the grace period when they ignore SIGTERM)."""
    pids = tmp_path / "pids"
    trap = "trap '' TERM; " if ignore_term else ""
    script = f'{trap}sleep 600 & echo "$$ $!" > {pids}.tmp && mv {pids}.tmp {pids}; sleep 600'

    async def main() -> float:
        line = await _start(["sh", "-c", script], grace=1.0, stdin=subprocess.DEVNULL)
        try:
            await anyio.to_thread.run_sync(lambda: wait_until(pids.exists))
            started = time.monotonic()
            line.release()
            await line.process.wait()
            return time.monotonic() - started
        finally:
            line.release()
            await line.process.aclose()

    elapsed = _run(main)
    shell, child = (int(p) for p in pids.read_text().split())
    wait_until(lambda: not _alive(shell) and not _alive(child), timeout=5)
    assert elapsed < (1.0 if not ignore_term else 3.0), elapsed
    if ignore_term:
        assert elapsed >= 0.9, elapsed


@linux_only
def test_command_gets_default_sigpipe_and_sigxfsz() -> None:
    """Python ignores SIGPIPE (and SIGXFSZ); the command must not inherit that (``yes | head``
    in a hook would never end), as with ``subprocess``."""

    async def main() -> bytes:
        line = await _start(["grep", "^SigIgn:", "/proc/self/status"], stdin=subprocess.DEVNULL)
        out, _ = await _finish(line)
        return out

    ignored = int(_run(main).split()[1], 16)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGHUP):
        assert not ignored & (1 << (sig - 1)), (sig, hex(ignored))
