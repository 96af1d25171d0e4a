"""Encrypted snapshots of the workspace on the crypt remote ``<remote_name>-backup``.

A snapshot is a tar stream (see :mod:`watcher.engine.tarstream`) written by a thread into a pipe
whose read end is ``rclone rcat``'s stdin: no copy on disk. It is streamed straight to
``snapshots/<stamp>.tar``; only after that upload succeeded is the manifest ``<stamp>.json``
written beside it (see :mod:`watcher.plan.snapshots`), so a killed or failed snapshot, whose
``.tar`` may hold a truncated stream, never looks complete. Snapshots and prunes hold the
per-config run lock (never concurrent with a sync run); restores only read the remote.
"""

from __future__ import annotations

import json
import os
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from loguru import logger

from watcher.config import Config
from watcher.engine.backup_key import check_backup_password
from watcher.engine.lock import LOCK_WAIT
from watcher.engine.mounted import workspace_gone
from watcher.engine.session import Session
from watcher.engine.state import RunRecord, last_runs, record_run
from watcher.engine.tarstream import OwnedFd, TarStats, extract_tar, widen_pipe, write_tar
from watcher.errors import ConfigError, SyncFailed, UsageError
from watcher.plan.cycle import PARTIAL_EXCLUDES
from watcher.plan.filters import PathFilter
from watcher.plan.snapshots import (
    SNAPSHOTS,
    Layout,
    classify,
    crypt_path,
    manifest_name,
    normalize_snapshot,
    snapshot_name,
    snapshot_time,
)
from watcher.rclone import Entry, RcloneResult, list_files
from watcher.rclone.ops import QUICK_TIMEOUT
from watcher.version import VERSION

T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot:
    """A complete snapshot: file name, size of the tar stream, time it was taken (UTC)."""

    name: str
    size: int
    time: datetime

    def as_json(self) -> dict[str, Any]:
        """The ``backup list --json`` form."""
        return {
            "name": self.name,
            "size": self.size,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "timestamp": self.time.timestamp(),
        }


@dataclass
class SnapshotReport:
    """What one snapshot stored."""

    name: str
    files: int
    bytes: int
    duration: float
    skipped: list[str] = field(default_factory=list)
    #: Seconds of the streamed upload (``rcat``) alone; the rest is writing the manifest.
    upload: float = 0.0

    def message(self) -> str:
        """One line for the log, the CLI and ``status``."""
        rate = self.bytes / self.upload / 1e6 if self.upload > 0 else 0.0
        text = (
            f"snapshot {self.name}: {self.files} files, {self.bytes / 1e6:.1f} MB "
            f"in {self.duration:.1f} s (upload {self.upload:.1f} s, {rate:.0f} MB/s)"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} unreadable, not in the snapshot: " + "; ".join(
                self.skipped[:3]
            )
        return text


def require_backup(cfg: Config) -> None:
    """Raise :class:`ConfigError` (exit 2) unless ``[backup]`` is enabled."""
    if not cfg.backup.enabled:
        raise ConfigError(
            f"backup is disabled in {cfg.config_path}: set enabled = true and a password in "
            "its [backup] table (or secrets_file)"
        )


async def take_snapshot(session: Session, *, lock_wait: float = LOCK_WAIT) -> SnapshotReport:
    """Stream a snapshot of the workspace (and ``include`` paths) to the crypt remote under the
    run lock; raises :class:`SyncFailed` when it could not be completed (nothing is listed
    then). The outcome is recorded as the last ``backup`` run."""
    cfg = session.cfg
    require_backup(cfg)
    started = time.time()
    try:
        async with session.run_lock(lock_wait):
            await check_backup_password(session)  # never a new series under a wrong password
            report = await _snapshot(session)
    except SyncFailed as exc:
        record_run(
            session.paths, RunRecord("backup", False, str(exc), started, time.time() - started)
        )
        raise
    record_run(
        session.paths,
        RunRecord(
            "backup",
            not report.skipped,
            report.message(),
            started,
            time.time() - started,  # covers the name's second: see _fresh_name
            transferred=report.files,
            errors=len(report.skipped),
        ),
    )
    return report


async def _fresh_name(session: Session) -> str:
    """A snapshot name no earlier snapshot of this config used. Names have one-second
    resolution; when the last snapshot ended within the current second, wait for the next."""
    last = last_runs(session.paths).get("backup") or {}
    try:
        not_before = int(float(last["started"]) + float(last["duration"])) + 1
    except (KeyError, TypeError, ValueError):
        not_before = 0
    await anyio.sleep(max(0.0, not_before - time.time()))
    return snapshot_name(datetime.now(timezone.utc))


async def _snapshot(session: Session) -> SnapshotReport:
    cfg = session.cfg
    why = workspace_gone(session)  # an empty snapshot, then the prune, would drop the real ones
    if why:
        raise SyncFailed(f"workspace {why} (unmounted?); no snapshot was taken, none pruned")
    name = await _fresh_name(session)
    started = time.monotonic()
    target = crypt_path(cfg, SNAPSHOTS, name)
    commit = _Commit(session, crypt_path(cfg, SNAPSHOTS, manifest_name(name)))
    async with anyio.create_task_group() as tg:
        tg.start_soon(commit.run)  # rclone starts now, and waits for the manifest on stdin
        stats, error, result = await _upload(session, target)
        upload = time.monotonic() - started
        if result.ok and error is None and stats is not None:
            commit.send(_manifest(name, stats))
        else:
            tg.cancel_scope.cancel()  # stops that rclone before it read a byte
    commit.close()
    if not result.ok or error is not None or stats is None:
        await _discard(session, target)
        if not result.ok:
            raise SyncFailed(f"snapshot upload failed: {result.message()}")
        raise SyncFailed(f"snapshot failed while reading the workspace: {error}")
    if commit.result is None or not commit.result.ok:
        await _discard(session, target)
        why = commit.result.message() if commit.result else "it did not run"
        raise SyncFailed(f"snapshot uploaded but could not be committed: {why}")
    report = SnapshotReport(
        name, stats.files, stats.bytes, time.monotonic() - started, stats.skipped, upload
    )
    logger.log("WARNING" if report.skipped else "INFO", "backup: {}", report.message())
    return report


class _Commit:
    """The ``rclone rcat`` that writes a snapshot's manifest, started together with the upload
    (hiding rclone's start-up and key derivation) and fed the manifest in one write at the
    end. Should the tool die before that write, rclone reads an empty stdin: an empty
    manifest commits nothing (see :func:`watcher.plan.snapshots.classify`)."""

    def __init__(self, session: Session, dst: str) -> None:
        self.session, self.dst = session, dst
        read_end, write_end = os.pipe()
        self._read_end: int | None = read_end
        self._writer = OwnedFd(write_end)
        self.result: RcloneResult | None = None

    async def run(self) -> None:
        """Run the rcat until it has uploaded what :meth:`send` gave it (or is cancelled)."""
        read_end, self._read_end = self._read_end, None
        try:
            # It waits as long as the upload runs (bounded by the same run timeout), then needs
            # a moment of its own.
            self.result = await self.session.rc.run(
                ["rcat", self.dst],
                stdin_fd=read_end,
                per_file=False,
                timeout=self.session.rc.timeout + QUICK_TIMEOUT,
            )
        finally:
            self._writer.close()

    def close(self) -> None:
        """Release the pipe if :meth:`run` never started."""
        if self._read_end is not None:
            os.close(self._read_end)
            self._read_end = None
        self._writer.close()

    def send(self, data: bytes) -> None:
        """Give rclone the whole manifest in one write (atomic for a pipe below PIPE_BUF)."""
        if len(data) > select.PIPE_BUF:
            raise ValueError("a manifest must fit in one atomic pipe write")
        fd = self._writer.take()
        if fd is None:
            return  # rclone already ended: its result says why
        try:
            os.write(fd, data)
        except OSError:
            pass  # rclone died: its result says why
        finally:
            os.close(fd)


def _manifest(name: str, stats: TarStats) -> bytes:
    """The manifest that commits snapshot ``name``: what it holds, who wrote it (no secrets)."""
    data = {
        "snapshot": name,
        "size": stats.stream,
        "files": stats.files,
        "file_bytes": stats.bytes,
        "unreadable": len(stats.skipped),
        "host": socket.gethostname(),
        "tool": f"workspace-sync {VERSION}",
    }
    return (json.dumps(data, indent=1) + "\n").encode()


async def _upload(
    session: Session, dst: str
) -> tuple[TarStats | None, BaseException | None, RcloneResult]:
    """Run ``rclone rcat DST`` fed by :func:`write_tar` on a thread through a pipe."""
    cfg = session.cfg
    filt = PathFilter.from_user(cfg.exclude, PARTIAL_EXCLUDES)
    return await _piped(
        session,
        ["rcat", dst],
        lambda fd: write_tar(fd, cfg.workspace, cfg.backup.include, filt),
        into_rclone=True,
    )


async def _piped(
    session: Session, args: list[str], work: Callable[[OwnedFd], T], *, into_rclone: bool
) -> tuple[T | None, BaseException | None, RcloneResult]:
    """Run ``rclone ARGS`` with one end of a pipe as its stdin (``into_rclone``) or its stdout,
    and ``work(other end)`` on a thread; returns what ``work`` returned (or ``None``), the error
    it raised (reported after rclone's own outcome), and rclone's result. Every end is closed
    whatever happens, so neither side can wait forever on the other."""
    read_end, write_end = os.pipe()
    widen_pipe(write_end)
    ours = OwnedFd(write_end if into_rclone else read_end)
    outcome: dict[str, Any] = {}

    async def side() -> None:
        try:
            outcome["value"] = await anyio.to_thread.run_sync(work, ours)
        except Exception as exc:
            outcome["error"] = exc
        finally:
            ours.close()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(side)
            result = await session.rc.run(
                args,
                per_file=False,
                stdin_fd=read_end if into_rclone else None,
                stdout_fd=None if into_rclone else write_end,
            )
    finally:
        ours.close()
    return outcome.get("value"), outcome.get("error"), result


async def _discard(session: Session, path: str) -> None:
    """Best effort: remove an unfinished upload (prune removes what is left)."""
    with anyio.CancelScope(shield=True):
        await session.rc.run(
            ["deletefile", path], per_file=False, quiet_errors=True, timeout=QUICK_TIMEOUT
        )


async def list_snapshots(session: Session) -> list[Snapshot]:
    """Complete snapshots (and ``.tar`` files put in ``snapshots/`` by hand), oldest first.
    Interrupted uploads, which have no manifest, are never listed."""
    require_backup(session.cfg)
    entries, layout = await snapshot_layout(session)
    return complete_snapshots(entries, layout)


def complete_snapshots(entries: dict[str, Entry], layout: Layout) -> list[Snapshot]:
    """The snapshots of ``layout`` (complete ones and ``.tar`` files put there by hand) with
    their times, oldest first."""

    def when(name: str) -> datetime:
        return snapshot_time(name) or datetime.fromtimestamp(entries[name].mtime, timezone.utc)

    snapshots = [Snapshot(n, entries[n].size, when(n)) for n in layout.complete + layout.foreign]
    return sorted(snapshots, key=lambda s: (s.time, s.name))


async def snapshot_layout(session: Session) -> tuple[dict[str, Entry], Layout]:
    """The files in ``snapshots/`` by name (none when the folder does not exist yet), sorted
    into complete snapshots, interrupted uploads and the rest; raises when none decrypts."""
    found = await list_files(session.rc, crypt_path(session.cfg, SNAPSHOTS))
    if not found:
        await check_backup_password(session)
    entries = {e.path: e for e in found or []}
    return entries, classify({name: e.size for name, e in entries.items()})


async def restore_snapshot(session: Session, snapshot: str, dest: Path) -> int:
    """Extract ``snapshot`` into the empty or new folder ``dest`` (modes and modification times
    kept); returns the number of archive members. Bad input raises :class:`UsageError`."""
    cfg = session.cfg
    require_backup(cfg)
    name = normalize_snapshot(snapshot)
    if name is None:
        raise UsageError(f"SNAPSHOT {snapshot!r} is not a snapshot name (see `backup list`)")
    check_restore_target(dest)
    if name not in {s.name for s in await list_snapshots(session)}:
        listing = session.cfg.command("workspace-sync backup list")
        raise UsageError(f"no snapshot {name}; `{listing}` shows the snapshots")
    dest.mkdir(parents=True, exist_ok=True)
    count, error, result = await _piped(
        session,
        ["cat", crypt_path(cfg, SNAPSHOTS, name)],
        lambda fd: extract_tar(fd, dest),
        into_rclone=False,
    )
    if not result.ok:
        raise SyncFailed(f"restore of {name} failed: {result.message()}")
    if error is not None or count is None:
        raise SyncFailed(f"restore of {name} failed: {error}")
    logger.info("restored {} ({} entries) into {}", name, count, dest)
    return count


def check_restore_target(dest: Path) -> None:
    """Refuse (exit 2) a restore into anything but an empty or missing folder."""
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise UsageError(f"--to {dest} exists and is not a folder; give an empty or new folder")
    if dest.is_dir() and any(dest.iterdir()):
        raise UsageError(f"--to {dest} is not empty; restore into an empty or new folder")
