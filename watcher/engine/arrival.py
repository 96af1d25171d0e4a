"""The ``on_arrival`` hook: run the configured command once after files arrive.

Files arrive in two ways: a mailbox drain lands them in the local ``_inbox`` (kind ``inbox``), and
a mirror ingest delivers them to the remote ``_outbox``, the gateway's ingest folder (kind
``ingest``). After each such run that delivered at least one file, the command (an argv, never a
shell line) runs once with

- the arrived files as JSON on stdin: a list of ``{"kind", "path", "size", "source"}`` objects,
  ``path`` relative to the workspace (``inbox``: ``shared/_inbox/a.txt``) or in the remote
  storage (``ingest``: ``<remote_path>/_outbox/a.txt``), ``source`` where the file came from
  (its path in the remote ``_outbox``, or its path relative to the workspace in the ingest
  folder);
- ``WORKSPACE_SYNC_ARRIVED`` (the number of files), ``WORKSPACE_SYNC_EVENT`` (``inbox`` or
  ``ingest``), ``WORKSPACE_SYNC_CONFIG`` (the config file) and ``WORKSPACE_SYNC_WORKSPACE`` in
  its environment, the workspace as its working directory.

The hook is a notification, never part of the sync: it runs in its own process group under a
small supervisor (:mod:`watcher.lifeline`), bounded by :data:`ARRIVAL_TIMEOUT`, and dies with
the tool: when the timeout passes, or this process ends while the hook runs (even by kill -9),
the whole group gets SIGTERM, and SIGKILL after a grace period. A timeout, a non-zero exit or a
missing executable is logged as a warning and changes nothing else. Its output is logged
(stdout at DEBUG, stderr at INFO), truncated.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
from anyio.abc import ByteReceiveStream, Process
from loguru import logger

from watcher.config import Config
from watcher.lifeline import STOP_MARGIN, Lifeline, open_lifeline
from watcher.plan import OUTBOX
from watcher.rclone.runner import terminate

ArrivalKind = Literal["inbox", "ingest"]

_INTERPRETER = re.compile(
    r"(python|pypy)[\d.]*|sh|bash|dash|zsh|fish|node|deno|ruby|perl|php|pwsh|osascript"
)

#: Seconds the hook may run before its process group is stopped.
ARRIVAL_TIMEOUT = 60.0
#: Seconds between SIGTERM and SIGKILL when the hook overruns.
ARRIVAL_KILL_GRACE = 5.0
#: Seconds to wait for the hook's output pipes to close after it exited (a background child may
#: hold them open).
OUTPUT_GRACE = 1.0
#: Characters of stdout / stderr kept for the log.
OUTPUT_LIMIT = 2000


@dataclass(frozen=True)
class Arrival:
    """One arrived file: ``path`` relative to the workspace (inbox) or in the remote storage
    (ingest), its size in bytes, and ``source``, where it came from."""

    path: str
    size: int
    source: str


def arrival_payload(kind: ArrivalKind, arrivals: Iterable[Arrival]) -> list[dict[str, Any]]:
    """The JSON document the hook reads on stdin: one object per file, in the given order."""
    return [{"kind": kind, "path": a.path, "size": a.size, "source": a.source} for a in arrivals]


def workspace_relative(cfg: Config, path: Path) -> str:
    """``path`` as a POSIX path relative to the workspace (absolute when it lies outside)."""
    try:
        return path.relative_to(cfg.workspace).as_posix()
    except ValueError:
        return path.as_posix()


def outbox_path(cfg: Config, rel: str) -> str:
    """Where ``rel`` (relative to the remote ``_outbox``) lives in the remote storage:
    ``<remote_path>/_outbox/<rel>``."""
    return "/".join(part for part in (cfg.remote_path.strip("/"), OUTBOX, rel) if part)


def hook_argv(cfg: Config) -> list[str]:
    """The configured command; ``~`` and a relative program path (``./notify.sh``, ``bin/x``)
    resolve like other paths of the config: against the config file's folder. A bare name is
    looked up on PATH."""
    assert cfg.on_arrival
    program, *args = cfg.on_arrival
    if program.startswith("~"):
        program = str(Path(program).expanduser())
    elif "/" in program and not Path(program).is_absolute():
        program = str(cfg.config_path.parent / program)
    return [program, *args]


def hook_name(argv: Sequence[str]) -> str:
    """How the log names the hook: the program's file name, with the script's name when the
    program is an interpreter (``python3 notify.py``). Arguments are never logged: they may
    hold a webhook URL with a token."""
    name = Path(argv[0]).name
    if len(argv) > 1 and _INTERPRETER.fullmatch(name) and not argv[1].startswith("-"):
        name += " " + Path(argv[1]).name
    return name


def hook_env(cfg: Config, kind: ArrivalKind, count: int) -> dict[str, str]:
    """The variables the hook gets on top of this process's environment."""
    return {
        "WORKSPACE_SYNC_ARRIVED": str(count),
        "WORKSPACE_SYNC_EVENT": kind,
        "WORKSPACE_SYNC_CONFIG": str(cfg.config_path),
        "WORKSPACE_SYNC_WORKSPACE": str(cfg.workspace),
    }


def _shorten(data: bytes) -> str:
    text = data.decode(errors="replace").strip()
    return text if len(text) <= OUTPUT_LIMIT else text[:OUTPUT_LIMIT] + " … (truncated)"


async def _communicate(process: Process, stdin: bytes, out: bytearray, err: bytearray) -> None:
    """Feed ``stdin``, collect output (up to the log limit, draining the rest) until the process
    exits and its pipes close, or :data:`OUTPUT_GRACE` after it exited."""

    async def feed() -> None:
        assert process.stdin is not None
        # A hook that ignores stdin may exit before reading it: not an error.
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            async with process.stdin:
                await process.stdin.send(stdin)

    async def collect(stream: ByteReceiveStream, sink: bytearray, done: anyio.Event) -> None:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            async for chunk in stream:
                if len(sink) < 4 * OUTPUT_LIMIT:
                    sink.extend(chunk)
        done.set()

    assert process.stdout is not None and process.stderr is not None
    out_done, err_done = anyio.Event(), anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(feed)
        tg.start_soon(collect, process.stdout, out, out_done)
        tg.start_soon(collect, process.stderr, err, err_done)
        await process.wait()
        with anyio.move_on_after(OUTPUT_GRACE):
            await out_done.wait()
            await err_done.wait()
        tg.cancel_scope.cancel()


async def run_arrival_hook(
    cfg: Config,
    kind: ArrivalKind,
    arrivals: Sequence[Arrival],
    *,
    timeout: float | None = None,
    kill_grace: float | None = None,
) -> int | None:
    """Run ``on_arrival`` once for ``arrivals`` (nothing when none arrived or no hook is set).

    Returns the hook's exit code, or None when it did not run, could not start or timed out.
    Never raises for the hook's own failures. ``timeout`` / ``kill_grace`` default to
    :data:`ARRIVAL_TIMEOUT` / :data:`ARRIVAL_KILL_GRACE` (read at call time).
    """
    if not cfg.on_arrival or not arrivals:
        return None
    limit = ARRIVAL_TIMEOUT if timeout is None else timeout
    grace = ARRIVAL_KILL_GRACE if kill_grace is None else kill_grace
    argv = hook_argv(cfg)
    stdin = (json.dumps(arrival_payload(kind, arrivals), ensure_ascii=False) + "\n").encode()
    env = {**os.environ, **hook_env(cfg, kind, len(arrivals))}
    started = time.monotonic()
    try:
        hook = await open_lifeline(
            argv,
            grace=grace,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cfg.workspace if cfg.workspace.is_dir() else None,
            env=env,
        )
    except (OSError, ValueError) as exc:  # bad argv, or no interpreter for the supervisor
        _cannot_run(argv, exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
        return None
    out, err = bytearray(), bytearray()
    timed_out = await _supervise(hook, stdin, out, err, limit, grace)
    reason = hook.cannot_run(bytes(err))
    if reason is not None:  # missing, not executable
        _cannot_run(argv, reason)
        return None
    run = _HookRun(hook_name(argv), kind, len(arrivals), limit, time.monotonic() - started)
    return _report(run, None if timed_out else hook.process.returncode, out, err)


def _cannot_run(argv: Sequence[str], reason: str) -> None:
    logger.warning("on_arrival: cannot run {}: {}", argv[0], reason)


async def _supervise(
    hook: Lifeline, stdin: bytes, out: bytearray, err: bytearray, limit: float, grace: float
) -> bool:
    """Feed and collect ``hook`` for up to ``limit`` seconds; when it is still running then (or
    this task is cancelled) stop its whole process group. Returns True when it timed out."""
    process = hook.process
    timed_out = False
    try:
        with anyio.move_on_after(limit):
            await _communicate(process, stdin, out, err)
        timed_out = process.returncode is None
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                await terminate(process, grace + STOP_MARGIN, sweep=True)
            hook.release()
            await process.aclose()
    return timed_out


@dataclass(frozen=True)
class _HookRun:
    """One finished run of the hook, as the log describes it."""

    name: str
    kind: ArrivalKind
    count: int
    limit: float
    elapsed: float

    @property
    def files(self) -> str:
        return f"{self.count} {self.kind} file{'s' if self.count != 1 else ''}"


def _report(run: _HookRun, code: int | None, out: bytearray, err: bytearray) -> int | None:
    """Log the hook's output and outcome (``code`` None: it timed out and was stopped);
    returns ``code``."""
    if out.strip():
        logger.debug("on_arrival {} stdout: {}", run.name, _shorten(bytes(out)))
    if err.strip():
        logger.info("on_arrival {} stderr: {}", run.name, _shorten(bytes(err)))
    if code is None:
        logger.warning(
            "on_arrival: {} did not finish within {:g} s and was stopped ({})",
            run.name,
            run.limit,
            run.files,
        )
    elif code != 0:
        logger.warning(
            "on_arrival: {} exited {} ({}; {:.1f} s)", run.name, code, run.files, run.elapsed
        )
    else:
        logger.info("on_arrival: {} ran for {} ({:.1f} s)", run.name, run.files, run.elapsed)
    return code
