"""Rereading ``sync.toml`` while the daemon watches: a cheap watch of the config file's folder
(filtered to the config and secrets files, so an editor that renames a new file over the old
one is seen), SIGHUP, validation, and the *new pairing* state.

An edit that changes the pairing (:data:`watcher.config.change.PAIRING_KEYS`) is not run until
the user confirms it with one successful ``workspace-sync sync`` (any process); an invalid or
deleted file is logged once and the running config kept; any other edit is adopted at once.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from loguru import logger
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from watcher.config import Config, parse_config_file
from watcher.config.change import FileStamp, classify_change, file_stamp, pairing_key
from watcher.daemon.events import IGNORED_TYPES
from watcher.daemon.pairing_wait import WaitRecord, clear_wait, load_wait, save_wait
from watcher.engine import Session, open_session
from watcher.engine.lock import LockHeld, hold_lock
from watcher.engine.state import StatePaths, pairing_confirmed, state_paths
from watcher.errors import WorkspaceSyncError

#: A burst of events (truncate, write, rename) is read once it has been quiet this long ...
SETTLE = 0.3
#: ... or, under a stream of events that never pauses, once the first has waited this long.
SETTLE_MAX = 2.0
#: A backstop for lost or impossible watches (inotify limits): the files are stat()ed this often.
STAT_EVERY = 2.0

Signature = tuple[tuple[int, int, int] | None, ...]


def signature(files: list[Path]) -> Signature:
    """Inode, size and mtime of each file (``None`` for a missing one): cheap change detection."""
    out: list[tuple[int, int, int] | None] = []
    for path in files:
        try:
            st = path.stat()
        except OSError:
            out.append(None)
            continue
        out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _text(path: bytes | str) -> str:
    return os.fsdecode(path)


def confirm_command(cfg: Config) -> str:
    """The command that confirms ``cfg``'s pairing."""
    return cfg.command("workspace-sync sync")


class _Handler(FileSystemEventHandler):
    def __init__(self, names: frozenset[str], poke: threading.Event) -> None:
        self.names = names
        self.poke = poke

    def dispatch(self, event: FileSystemEvent) -> None:
        """Poke the reloader for a change of one of the watched files (either side of a move);
        reads (``opened``, ``closed_no_write``: every ``status``, the daemon's own reread) and
        attribute changes are no change."""
        if event.event_type in IGNORED_TYPES or event.event_type == "attrib":
            return
        paths = {_text(event.src_path), _text(event.dest_path) if event.dest_path else ""}
        if paths & self.names:
            self.poke.set()


class ConfigFileWatch:
    """Watches the folders of the given files (not recursively) and sets ``poke`` when one of
    the files is created, written, replaced, renamed or deleted."""

    def __init__(self, files: list[Path], poke: threading.Event) -> None:
        self.files = [str(f) for f in files]
        self.poke = poke
        self.observer: BaseObserver | None = None

    def start(self) -> None:
        """Start the observer (a folder that cannot be watched is logged; SIGHUP still works)."""
        observer = Observer()
        handler = _Handler(frozenset(self.files), self.poke)
        for folder in sorted({str(Path(f).parent) for f in self.files}):
            try:
                observer.schedule(handler, folder, recursive=False)
            except OSError as exc:
                logger.warning("cannot watch {} for config changes ({}); use SIGHUP", folder, exc)
        try:
            observer.start()
        except OSError as exc:  # e.g. the inotify watch limit: the stat() poll still sees edits
            logger.warning("cannot watch the config file for changes ({}); use SIGHUP", exc)
            observer = Observer()
            observer.start()
        self.observer = observer

    def stop(self) -> None:
        """Stop the observer thread."""
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=5)
            self.observer = None


@dataclass(frozen=True)
class PendingPairing:
    """An edited config that pairs differently from the running one, waiting for the user."""

    cfg: Config
    stamp: FileStamp
    changed: tuple[str, ...]
    #: A ``sync`` of this pairing confirms it when it succeeded at or after this (wall time):
    #: the edit, and never before the daemon started running its current pairing (a file put
    #: back with an old mtime is not confirmed by an earlier ``sync``).
    since: float
    #: Why a confirmed pairing still cannot run (its pair's daemon lock is held), else None.
    held: str | None = None


class ConfigReloader:
    """The daemon's view of its config file: what it runs, what is on disk, what waits."""

    def __init__(self, cfg: Config, paths: StatePaths) -> None:
        self.paths = paths
        self.config_path = cfg.config_path
        self.stamp = file_stamp(cfg.config_path, cfg.secrets_file)
        self.seen = self.stamp
        self.problem: str | None = None
        self.pending: PendingPairing | None = None
        self.poke = threading.Event()
        self.forced = False
        self.last_poke = 0.0
        #: When the current burst of pokes began (0 = none pending).
        self.first_poke = 0.0
        self.watch = ConfigFileWatch(self._files(cfg), self.poke)
        self.sig = signature(self._files(cfg))
        self.next_stat = 0.0
        #: The pairing the daemon runs (or, resumed while waiting, ran before) and since when.
        self.running_key = pairing_key(cfg)
        self.running_since = time.time()
        self._resume(cfg)

    def _resume(self, cfg: Config) -> None:
        """Go on waiting when an earlier daemon of this config stopped while a new pairing
        waited for confirmation and ``cfg`` is still not the pairing that daemon ran."""
        record = load_wait(self.paths)
        if record is None:
            return
        key = pairing_key(cfg)
        if key == record.running or pairing_confirmed(self.paths, cfg, record.since):
            clear_wait(self.paths)
            return
        changed = record.changed if key == record.pending else ("pairing",)
        self.running_key = record.running
        self.pending = PendingPairing(cfg, self.stamp, changed, record.since)
        save_wait(self.paths, replace(record, pending=key, changed=changed))
        logger.warning(
            "a new pairing ({}) was waiting for confirmation when the daemon last stopped: "
            "no run until you check both sides and confirm it with `{}`",
            ", ".join(changed),
            confirm_command(cfg),
        )

    @staticmethod
    def _files(cfg: Config) -> list[Path]:
        return [cfg.config_path] + ([cfg.secrets_file] if cfg.secrets_file else [])

    def sighup(self) -> None:
        """SIGHUP: reread the file at the next poll even when it looks unchanged."""
        logger.info("SIGHUP received: rereading {}", self.config_path)
        self.forced = True
        self.poke.set()

    def due(self, now: float) -> bool:
        """True when a poke (file event, SIGHUP, or a changed stat() every :data:`STAT_EVERY`
        seconds) has settled and the file should be read."""
        if now >= self.next_stat:
            self.next_stat = now + STAT_EVERY
            sig = signature([Path(f) for f in self.watch.files])
            if sig != self.sig:
                self.sig = sig
                self.poke.set()
        if self.poke.is_set():
            self.poke.clear()
            self.last_poke = now
            self.first_poke = self.first_poke or now
            return now - self.first_poke >= SETTLE_MAX
        return self.last_poke > 0 and now - self.last_poke >= SETTLE

    def poll(self, current: Config, now: float | None = None) -> Config | None:
        """Read the file if it changed; returns a config to adopt now (a live edit, or a new
        pairing the user has confirmed), else ``None``."""
        if self.due(time.monotonic() if now is None else now):
            self.last_poke = self.first_poke = 0.0
            forced, self.forced = self.forced, False
            stamp = file_stamp(current.config_path, current.secrets_file)
            if stamp != self.seen or forced:
                self.seen = stamp
                return self._read(current, stamp, forced)
        return self._confirmed()

    def _read(self, current: Config, stamp: FileStamp, forced: bool) -> Config | None:
        path = current.config_path
        if stamp.fingerprint is None:
            self.trouble(f"{path}: config file is gone; keeping the running config")
            return None
        try:
            new = replace(parse_config_file(path), config_named=current.config_named)
        except WorkspaceSyncError as exc:
            self.trouble(f"{exc}; keeping the running config")
            return None
        self.problem = None
        change = classify_change(current, new)
        waits = pairing_key(new) != self.running_key
        if change.new_pairing and not waits:
            return self._undone(new)  # back to the pairing this daemon ran before waiting
        if waits and not change.new_pairing and self.pending is not None:
            # resumed while waiting: the config it holds is itself the unconfirmed pairing
            self.pending = replace(self.pending, cfg=new, stamp=stamp)
            self.stamp = stamp
            return self._confirmed()
        if change.empty:
            if self.pending is not None:
                logger.info("config edit undone: the running pairing goes on")
                clear_wait(self.paths)
            self.pending = None
            self.stamp = stamp
            if forced:
                logger.info("config file unchanged: nothing to reload")
            return None
        if not change.new_pairing:
            if self.pending is not None:
                clear_wait(self.paths)
            self.pending = None
            logger.info("config reloaded: {} take effect now", ", ".join(change.live))
            return new
        return self._wait_for(new, stamp, change.pairing)

    def _wait_for(self, new: Config, stamp: FileStamp, changed: tuple[str, ...]) -> Config | None:
        """``new`` pairs differently: remember it (also for a restarted daemon) and wait."""
        since = max(stamp.mtime or 0.0, self.running_since)
        self.pending = PendingPairing(new, stamp, changed, since)
        save_wait(self.paths, WaitRecord(self.running_key, pairing_key(new), changed, since))
        logger.warning(
            "config changed ({}): a new pairing; the daemon makes no run until you check both "
            "sides and confirm it with `{}` (or `sync --force` when that is refused)",
            ", ".join(changed),
            confirm_command(new),
        )
        return self._confirmed()

    def _undone(self, new: Config) -> Config:
        logger.info("config edit undone: back to the pairing the daemon ran")
        self.pending = None
        clear_wait(self.paths)
        return new

    def trouble(self, message: str) -> None:
        """Keep the running config: log ``message`` (one line) and show it in ``status``."""
        self.problem = message
        logger.error("{}", message)

    def _confirmed(self) -> Config | None:
        pending = self.pending
        if pending is None:
            return None
        if pairing_confirmed(self.paths, pending.cfg, pending.since):
            return pending.cfg
        return None

    def held(self, message: str) -> None:
        """A confirmed pairing cannot run: its daemon lock is held (logged once)."""
        if self.pending is not None and self.pending.held != message:
            logger.error("new pairing confirmed but not started: {}", message)
            self.pending = replace(self.pending, held=message)

    def adopted(self, cfg: Config, *, confirmed: bool) -> None:
        """The daemon now runs ``cfg``; watch its files from here on."""
        if confirmed:
            logger.info("new pairing confirmed: running {} from now on", cfg.config_path)
        key = pairing_key(cfg)
        if key != self.running_key:
            self.running_key, self.running_since = key, time.time()
        clear_wait(self.paths)
        self.pending = None
        self.problem = None
        self.config_path = cfg.config_path
        self.stamp = self.seen = file_stamp(cfg.config_path, cfg.secrets_file)
        files = self._files(cfg)
        self.sig = signature(files)
        if [str(f) for f in files] != self.watch.files:
            self.watch.stop()
            self.watch = ConfigFileWatch(files, self.poke)
            self.watch.start()

    def state(self) -> dict[str, Any]:
        """What ``daemon.json`` says about the config (see docs/status.md)."""
        pending = self.pending
        return {
            "config_file": {"fingerprint": self.stamp.fingerprint, "mtime": self.stamp.mtime},
            "config_problem": self.problem,
            "new_pairing": None
            if pending is None
            else {
                "changed": list(pending.changed),
                "mode": pending.cfg.mode,
                "command": "workspace-sync sync",
                "held": pending.held,
            },
        }


async def open_pairing(
    reloader: ConfigReloader, new: Config, current_lock: Path, busy: str
) -> tuple[Session, contextlib.ExitStack[bool | None] | None] | None:
    """Open ``new``'s session and, when its pair differs, take its daemon lock first (never two
    daemons on one pair). Returns the session and the held lock (``None`` when the pair is the
    same), or ``None`` after logging why the running config stays."""
    lock = state_paths(new).daemon_lock
    stack: contextlib.ExitStack[bool | None] | None = None
    if lock != current_lock:
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(hold_lock(lock, busy, owner=str(new.config_path)))
        except LockHeld as exc:
            reloader.held(f"{exc}; stop that daemon and this one takes the pair over")
            return None
    try:
        session = await open_session(new)
    except WorkspaceSyncError as exc:
        if stack is not None:
            stack.close()
        reloader.trouble(f"{exc}; keeping the running config")
        return None
    return session, stack
