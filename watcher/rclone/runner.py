"""The only place that spawns rclone.

Each call runs rclone in its own process group under an anyio cancel scope. On timeout or
cancellation the group gets SIGTERM, then SIGKILL after a grace period, so no rclone outlives its
run. rclone's JSON log (``--use-json-log``) is parsed line by line into an :class:`RcloneResult`.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream, Process
from anyio.streams.text import TextReceiveStream
from loguru import logger

from watcher.plan.transfer import flags_for
from watcher.rclone.discover import RcloneBinary
from watcher.rclone.encoding import list_line
from watcher.rclone.result import LogEvent, RcloneResult, record

#: Seconds between SIGTERM and SIGKILL.
KILL_GRACE = 5.0
#: rclone's per-operation retries (its default of 10 takes minutes against a dead server).
LOW_LEVEL_RETRIES = 3
#: Upper bounds of rclone's connect timeout and IO idle timeout, in seconds (spec: ≤ 60 s).
MAX_CONTIMEOUT = 15.0
MAX_IDLE_TIMEOUT = 60.0


def network_timeouts(timeout: float) -> tuple[float, float]:
    """rclone's ``--contimeout`` and ``--timeout`` (IO idle) for a run limit of ``timeout``
    seconds: a quarter of it, at most 15 s, and half of it, at most 60 s (both at least 1 s),
    so a server that accepts and never answers fails a call well inside the run's limit
    instead of after rclone's default 5 min idle timeout × each low-level retry."""
    contimeout = max(1.0, min(MAX_CONTIMEOUT, timeout / 4))
    idle = max(1.0, min(MAX_IDLE_TIMEOUT, timeout / 2))
    return contimeout, idle


def _duration(seconds: float) -> str:
    """``seconds`` in rclone's duration syntax (``1.5s``)."""
    return f"{seconds:g}s"


EventHook = Callable[[LogEvent], None]


@functools.cache
def death_signal_prefix() -> tuple[str, ...]:
    """argv prefix that makes the kernel send SIGTERM to rclone when this process dies.

    On Linux, util-linux ``setpriv --pdeathsig`` sets the parent-death signal and execs rclone
    (same pid); elsewhere (or without setpriv) rclone is only stopped by :func:`terminate`.
    """
    if sys.platform.startswith("linux"):
        setpriv = shutil.which("setpriv")
        if setpriv:
            return (setpriv, "--pdeathsig", "TERM", "--")
    return ()


def _redactor(secrets: Iterable[str]) -> Callable[[str], str]:
    values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(text: str) -> str:
        for value in values:
            text = text.replace(value, "***")
        return text

    return redact


class Rclone:
    """Runs rclone with the tool's own config file, cache dir and JSON logging."""

    def __init__(
        self,
        binary: RcloneBinary,
        config_file: Path,
        cache_dir: Path,
        *,
        timeout: float,
        secrets: Iterable[str] = (),
        auth_hint: str = "",
        transfer_flags: Sequence[str] = (),
    ) -> None:
        self.binary = binary
        self.config_file = config_file
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.redact = _redactor(secrets)
        #: What a failed run's message advises for a 401/403 (this config's provider).
        self.auth_hint = auth_hint
        #: The ``[transfer]`` flags, given to every call that reaches a remote
        #: (:func:`watcher.plan.transfer.flags_for`).
        self.transfer_flags = tuple(transfer_flags)
        #: Sees every parsed log line of every run (after the per-call ``on_event``).
        self.event_hook: EventHook | None = None
        #: ``time.monotonic()`` past which no run starts and every run is stopped (a cycle's).
        self.deadline: float | None = None

    def with_deadline(self, deadline: float) -> Rclone:
        """A copy of this runner whose runs all end by ``deadline`` (``time.monotonic()``):
        each gets at most the time left, and one asked for after it is not started (its
        result says "cycle deadline reached")."""
        other = copy.copy(self)
        other.deadline = deadline
        return other

    def with_event_hook(self, hook: EventHook) -> Rclone:
        """A copy of this runner whose every run also passes each parsed log line to ``hook``
        (how a caller, e.g. the CLI's progress display, watches the runs of a whole cycle)."""
        other = copy.copy(self)
        other.event_hook = hook
        return other

    def base_args(self) -> list[str]:
        """Flags every call gets: the tool's rclone.conf and cache dir, JSON logs, no colours,
        few retries, connect and IO idle timeouts (:func:`network_timeouts`)."""
        contimeout, idle = network_timeouts(self.timeout)
        return [
            "--config",
            str(self.config_file),
            "--cache-dir",
            str(self.cache_dir),
            "--use-json-log",
            "--color",
            "NEVER",
            # Fail fast and let the caller retry with backoff: rclone's defaults (3 retries of
            # the whole run, 10 low-level retries) keep a run against a dead server going for
            # over ten minutes.
            "--retries",
            "1",
            "--low-level-retries",
            str(LOW_LEVEL_RETRIES),
            "--contimeout",
            _duration(contimeout),
            "--timeout",
            _duration(idle),
        ]

    async def run(
        self,
        args: Sequence[str],
        *,
        timeout: float | None = None,
        stdin: bytes | None = None,
        per_file: bool = True,
        on_event: EventHook | None = None,
        env: Mapping[str, str] | None = None,
        quiet_errors: bool = False,
        files_from: Iterable[str] | None = None,
        stdin_fd: int | None = None,
        stdout_fd: int | None = None,
        cwd: Path | None = None,
    ) -> RcloneResult:
        """Run ``rclone ARGS`` and return what it did; never raises for rclone's own failures.

        ``per_file`` adds ``-v`` and per-second stats (transfers and deletes recorded);
        ``on_event`` sees every parsed log line; ``quiet_errors`` logs rclone's errors at DEBUG
        (expected, handled failures); ``files_from`` limits the command to these paths
        (``--files-from-raw``, which rclone will not combine with filters, so the caller
        filters; a path with a line break raises :class:`ValueError`); ``cwd`` is rclone's
        working folder. ``stdin_fd``/``stdout_fd`` connect rclone to a pipe end instead of
        ``stdin`` bytes / :attr:`RcloneResult.stdout`; the runner owns and closes them once
        rclone has its copy, so the other end sees EOF or EPIPE as soon as rclone exits.
        Cancelling the caller stops rclone (SIGTERM, then SIGKILL) before it propagates.
        """
        owned = [fd for fd in (stdin_fd, stdout_fd) if fd is not None]
        list_file: Path | None = None
        try:
            if files_from is not None:
                list_file = self._write_list(files_from)
            return await self._run(
                [*args, "--files-from-raw", str(list_file)] if list_file else args,
                timeout=timeout,
                stdin=stdin,
                per_file=per_file,
                on_event=on_event,
                env=env,
                quiet_errors=quiet_errors,
                stdin_fd=stdin_fd,
                stdout_fd=stdout_fd,
                owned=owned,
                cwd=cwd,
            )
        finally:
            _close_all(owned)
            if list_file is not None:
                list_file.unlink(missing_ok=True)

    def _write_list(self, paths: Iterable[str]) -> Path:
        """Write ``paths`` one per line, as file-system bytes, to a private temp file for
        ``--files-from-raw``. Raises :class:`ValueError` (before anything is written or run)
        for a path a line cannot carry: a name with a line break would become two entries,
        and ``sync`` deletes a listed path missing at the source."""
        data = b"".join(list_line(path) for path in paths)
        self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(dir=self.cache_dir, prefix="files-", suffix=".lst")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return Path(name)

    async def _run(
        self,
        args: Sequence[str],
        *,
        timeout: float | None,
        stdin: bytes | None,
        per_file: bool,
        on_event: EventHook | None,
        env: Mapping[str, str] | None,
        quiet_errors: bool,
        stdin_fd: int | None,
        stdout_fd: int | None,
        owned: list[int],
        cwd: Path | None = None,
    ) -> RcloneResult:
        argv = [*death_signal_prefix(), str(self.binary.path), *args, *self.base_args()]
        argv += flags_for(args, self.transfer_flags)
        if per_file:
            argv += ["-v", "--stats", "1s", "--stats-log-level", "NOTICE"]
        result = RcloneResult(tuple(args), exit_code=-1, duration=0.0, auth_hint=self.auth_hint)
        limit = self._limit(timeout, result)
        if limit is None:
            return result
        logger.debug("rclone {}", self.redact(" ".join(args)))
        started = time.monotonic()
        stdin_spec: int = subprocess.PIPE if stdin is not None else subprocess.DEVNULL
        process = await anyio.open_process(
            argv,
            stdin=stdin_fd if stdin_fd is not None else stdin_spec,
            stdout=stdout_fd if stdout_fd is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        _close_all(owned)  # rclone has its copies; ours must not keep the pipes open
        stdin = None if stdin_fd is not None else stdin
        try:
            with anyio.move_on_after(limit) as scope:
                await self._communicate(process, stdin, result, on_event, quiet_errors)
                await process.wait()
            result.timed_out = scope.cancelled_caught
        finally:
            if process.returncode is None:
                with anyio.CancelScope(shield=True):
                    await terminate(process)
            result.duration = time.monotonic() - started
            result.exit_code = process.returncode if process.returncode is not None else -1
        return result

    def _limit(self, timeout: float | None, result: RcloneResult) -> float | None:
        """Seconds this run may take: ``timeout`` (default the runner's), cut to the time left
        before :attr:`deadline`; ``None`` (and ``result`` marked) when none is left."""
        limit = self.timeout if timeout is None else timeout
        if self.deadline is None:
            return limit
        left = self.deadline - time.monotonic()
        result.deadline = left < limit
        if left <= 0:
            result.timed_out = True
            logger.debug("rclone {} not started: cycle deadline reached", result.args[0])
            return None
        return min(limit, left)

    async def _communicate(
        self,
        process: Process,
        stdin: bytes | None,
        result: RcloneResult,
        on_event: EventHook | None,
        quiet_errors: bool,
    ) -> None:
        async def feed() -> None:
            assert process.stdin is not None
            async with process.stdin:
                if stdin:
                    await process.stdin.send(stdin)

        async def collect(stream: ByteReceiveStream) -> None:
            chunks = [chunk async for chunk in stream]
            result.stdout = b"".join(chunks)

        async def read_log(stream: ByteReceiveStream) -> None:
            buffer = ""
            async for text in TextReceiveStream(stream, errors="replace"):
                buffer += text
                *lines, buffer = buffer.split("\n")
                for line in lines:
                    self._handle_line(line, result, on_event, quiet_errors)
            if buffer:
                self._handle_line(buffer, result, on_event, quiet_errors)

        async with anyio.create_task_group() as tg:
            if stdin is not None:
                tg.start_soon(feed)
            assert process.stderr is not None
            if process.stdout is not None:
                tg.start_soon(collect, process.stdout)
            tg.start_soon(read_log, process.stderr)

    def _handle_line(
        self, line: str, result: RcloneResult, on_event: EventHook | None, quiet: bool
    ) -> None:
        line = line.strip()
        if not line:
            return
        try:
            event = json.loads(line)
            if not isinstance(event, dict):
                raise ValueError
        except ValueError:
            failed = any(word in line for word in ("ERROR", "CRITICAL", "FATAL", "panic:"))
            event = {"level": "error" if failed else "info", "msg": line}
        record(event, result, self.redact, quiet=quiet)
        if on_event is not None:
            on_event(event)
        if self.event_hook is not None:
            self.event_hook(event)


def _close_all(fds: list[int]) -> None:
    """Close and forget every descriptor in ``fds`` (each exactly once)."""
    while fds:
        with contextlib.suppress(OSError):
            os.close(fds.pop())


async def terminate(process: Process, grace: float = KILL_GRACE, *, sweep: bool = False) -> None:
    """Stop ``process`` and its process group: SIGTERM, then SIGKILL after ``grace`` seconds.

    ``sweep`` also SIGKILLs the group when the leader obeyed SIGTERM, for commands that may
    leave children behind (rclone spawns none).
    """
    _signal_group(process.pid, signal.SIGTERM)
    with anyio.move_on_after(grace):
        await process.wait()
    if process.returncode is None:
        _signal_group(process.pid, signal.SIGKILL)
        await process.wait()
    elif sweep:
        _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
