"""The watch daemon: observers → debouncer → one run at a time, with fallback timer, outbox
polling, retries with capped backoff, and the blocked state for safety refusals."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from dataclasses import dataclass

import anyio
from loguru import logger

from watcher.config import Config
from watcher.daemon.backups import BackupTimer
from watcher.daemon.blocks import Blocks, block_for, block_loop, unblocked
from watcher.daemon.debounce import Pending, apply_change, backoff_delay, wait_time
from watcher.daemon.health import RunProgress
from watcher.daemon.intake import Intake
from watcher.daemon.liveness import Liveness
from watcher.daemon.notify import Notifier
from watcher.daemon.observe import Observers
from watcher.daemon.own_writes import OwnWrites
from watcher.daemon.reload import ConfigReloader, confirm_command, open_pairing
from watcher.daemon.roots import prepare_local_roots, warn_unwatched, watch_roots
from watcher.daemon.work import due_rechecks, note_rechecks, run_work
from watcher.engine import CycleReport, Session
from watcher.engine.lock import hold_lock
from watcher.engine.state import write_json
from watcher.errors import SafetyRefusal
from watcher.plan import OUTBOX, local_remote_dir, plan_cycle
from watcher.rclone import list_files

#: Retries of a failing run wait 2, 4, 8 … seconds, at most this long (plus jitter).
BACKOFF_CAP = 300.0
#: How often the daemon refreshes ``daemon.json`` for ``status`` (only when it changed).
STATE_INTERVAL = 1.0
#: How often the daemon looks at config file events and at a pending pairing's confirmation.
RELOAD_POLL = 0.25
BUSY = "workspace-sync watch is already running for this workspace and remote"


@dataclass
class DaemonStats:
    """Counters for logs, tests and benchmarks."""

    cycles: int = 0
    failures: int = 0
    suppressed: int = 0


class Daemon:
    """Runs cycles for one config until cancelled (SIGINT/SIGTERM); SIGUSR1 asks for a cycle."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cfg = session.cfg
        self.pending = Pending()
        self.remote_paths: set[str] = set()
        self.own = OwnWrites()
        self.intake = Intake(lambda: self.wakeup.set())
        self.wakeup = anyio.Event()
        #: Set by ``trigger`` (SIGUSR1): cuts a retry backoff short; file events do not.
        self.kick = anyio.Event()
        self.stats = DaemonStats()
        self.known_dest_files: int | None = None
        self.failures = 0
        self.blocks = Blocks()
        self.progress = RunProgress()
        self.last_full = time.monotonic()
        self.running = False
        self.started = time.time()
        self.observers = Observers(watch_roots(self.cfg), self.intake.put)
        self.liveness = Liveness(self)
        #: Sync runs and snapshots of this daemon take turns (the run lock also keeps other
        #: processes out); a sync waits for a snapshot instead of failing on the lock.
        self.run_guard = anyio.Lock()
        #: Steps to run again (monotonic time) for inbound files that were still being written.
        self.rechecks: dict[str, float] = {}
        self.reloader = ConfigReloader(self.cfg, session.paths)
        #: A session (new config) to switch to between runs; its pair lock is already held.
        self.adopt: Session | None = None
        self._lock = contextlib.ExitStack()
        self.notify = Notifier()

    # ------------------------------------------------------------------ event intake

    def repair_wakeup(self) -> None:
        """Wake the loop when changes wait (their wake-up was lost)."""
        if self.intake.waiting():
            self.wakeup.set()

    def _take_changes(self) -> None:
        now, mode, closes = time.monotonic(), self.cfg.mode, self.observers.reports_closes
        for change in self.intake.take():
            apply_change(self.pending, self.remote_paths, change, mode, now, closes=closes(change))

    def request(self, *, full: bool = False, drain: bool = False, urgent: bool = True) -> None:
        """Ask for work from inside the loop (start-up, timer, trigger, outbox poll)."""
        self.pending.full |= full
        self.pending.drain |= drain
        self.pending.urgent |= urgent
        self.pending.touch(time.monotonic())
        self.wakeup.set()

    # ------------------------------------------------------------------ main loop

    async def run(self) -> None:
        """Hold the daemon lock and run until cancelled. Raises
        :class:`~watcher.engine.lock.LockHeld` when another daemon (of any config) runs this
        workspace and remote."""
        owner = str(self.cfg.config_path)
        self._lock.enter_context(hold_lock(self.session.paths.daemon_lock, BUSY, owner=owner))
        self.intake.bind()
        self.started = time.time()
        self.reloader.watch.start()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._signals, tg.cancel_scope)
                tg.start_soon(self._publish_state)
                tg.start_soon(self._config_loop)
                tg.start_soon(self.notify.watchdog)
                tg.start_soon(
                    block_loop,
                    self.blocks,
                    lambda: self.session,
                    lambda: self.running,
                    lambda: self.request(full=True),
                )
                while True:
                    await self._generation()
        finally:
            self.notify.stopping()
            self.intake.unbind()
            self.reloader.watch.stop()
            self.session.paths.daemon_state.unlink(missing_ok=True)
            self._lock.close()

    async def _generation(self) -> None:
        """Run the current config (observers, timers, scheduler) until a new one is adopted."""
        self._prepare_roots()
        warn_unwatched(self.cfg)
        observers = self.observers  # _switch() puts the next config's in its place
        self.liveness.attach(observers)
        observers.start()
        self.notify.ready()
        try:
            async with anyio.create_task_group() as tg:
                if self.cfg.interval:
                    tg.start_soon(self._fallback_timer)
                tg.start_soon(self.liveness.loop)
                if self.cfg.backup.enabled and self.cfg.backup.interval:
                    tg.start_soon(BackupTimer(self.session, self.run_guard).run)
                if self.cfg.mode == "mailbox" and self._outbox_is_remote() and self.cfg.outbox_poll:
                    tg.start_soon(self._outbox_poll)
                self.request(full=True)
                await self._scheduler()
                tg.cancel_scope.cancel()
        finally:
            observers.stop()
            self.observers.stop()  # restarted ones (the next config's are not started yet)

    def _switch(self, session: Session) -> None:
        """Run ``session`` from now on (called between runs): fresh observers and work."""
        self.notify.reloading()
        self.observers.stop()
        self.session, self.cfg, self.adopt = session, session.cfg, None
        self.pending, self.remote_paths, self.rechecks = Pending(), set(), {}
        self.own = OwnWrites()
        self.known_dest_files, self.blocks.current, self.failures = None, None, 0
        self.observers = Observers(watch_roots(self.cfg), self.intake.put)

    async def _config_loop(self) -> None:
        """Look at config file events, SIGHUP and a pending pairing's confirmation."""
        while True:
            await anyio.sleep(RELOAD_POLL)
            if self.adopt is not None:
                continue
            waiting = self.reloader.pending is not None
            new = self.reloader.poll(self.cfg)
            if new is not None:
                await self._prepare(new, confirmed=waiting)
            elif waiting and self.reloader.pending is None:
                self.wakeup.set()  # the edit was undone: runs go on

    async def _prepare(self, new: Config, *, confirmed: bool) -> None:
        """Take the new pair's daemon lock (when the pair changes) and open its session; on
        success the scheduler switches at its next turn, else the running config is kept."""
        current = self.session.paths.daemon_lock
        opened = await open_pairing(self.reloader, new, current, BUSY)
        if opened is None:
            return
        session, stack = opened
        if stack is not None:
            self._lock.close()
            self._lock = stack
        self.reloader.adopted(new, confirmed=confirmed)
        self.adopt = session
        self.wakeup.set()

    def _prepare_roots(self) -> None:
        """Create the folders to watch where that is safe (see :func:`prepare_local_roots`)."""
        cfg = self.cfg
        prepare_local_roots(self.session, self.observers.roots)
        remote_dir = local_remote_dir(cfg)
        if remote_dir is not None and cfg.mode == "mailbox":
            (remote_dir / OUTBOX).mkdir(parents=True, exist_ok=True)

    def _outbox_is_remote(self) -> bool:
        return local_remote_dir(self.cfg) is None

    async def _signals(self, scope: anyio.CancelScope) -> None:
        wanted = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP)
        with anyio.open_signal_receiver(*wanted) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    self.reloader.sighup()
                elif signum == signal.SIGUSR1 and self.reloader.pending is not None:
                    logger.warning(
                        "trigger received: not running: a new pairing waits for `{}`",
                        confirm_command(self.reloader.pending.cfg),
                    )
                elif signum == signal.SIGUSR1:
                    logger.info("trigger received: running a full cycle")
                    self.blocks.clear()
                    self.kick.set()
                    self.request(full=True)
                else:
                    logger.info("{} received: stopping", signal.Signals(signum).name)
                    scope.cancel()
                    return

    def state(self) -> dict[str, object]:
        """What ``status`` shows of this daemon (pid, uptime, blocked, pending work)."""
        pending = self.pending
        kinds = ("drain", "ingest", "pull", "bisync")
        return {
            "pid": os.getpid(),
            "started": self.started,
            "running": self.running,
            "blocked": self.blocks.fix,
            "failures": self.failures,
            "cycles": self.stats.cycles,
            "daemon_lock": str(self.session.paths.daemon_lock),
            **self.progress.state(self.session.paths),
            **self.reloader.state(),
            **self.observers.state(),
            "pending": {
                "paths": len(pending.paths),
                "full": pending.full,
                "steps": [kind for kind in kinds if getattr(pending, kind)],
            },
        }

    async def _publish_state(self) -> None:
        """Keep ``daemon.json`` in the state dir current (rewritten only when it changes)."""
        last: dict[str, object] | None = None
        while True:
            state = self.state()
            if state != last:
                try:
                    write_json(self.session.paths.daemon_state, state)
                    last = state
                except OSError as exc:  # status loses detail; syncing goes on
                    logger.debug("could not write daemon state: {}", exc)
            await self.blocks.wait_lift(STATE_INTERVAL)

    async def _fallback_timer(self) -> None:
        while True:
            due = self.last_full + self.cfg.interval
            await anyio.sleep(max(1.0, due - time.monotonic()))
            if time.monotonic() >= self.last_full + self.cfg.interval and not self.running:
                logger.debug("fallback timer: full cycle")
                self.request(full=True)

    async def _outbox_poll(self) -> None:
        step = plan_cycle(self.cfg)[1]
        outbox = step.src
        while True:
            await anyio.sleep(self.cfg.outbox_poll)
            if self.running or self.pending.drain or self.pending.full:
                continue
            try:
                files = await list_files(self.session.rc, outbox, step.filter.rclone_args())
            except Exception as exc:  # a failing remote must never stop the daemon
                logger.debug("outbox poll failed: {}", exc)
                continue
            if files:
                logger.debug("outbox poll: {} inbound files", len(files))
                self.request(drain=True)

    async def _wait(self, timeout: float | None) -> None:
        with anyio.move_on_after(timeout):
            await self.wakeup.wait()
        self.wakeup = anyio.Event()

    async def _scheduler(self) -> None:
        while True:
            self._take_changes()
            if self.adopt is not None:
                async with self.run_guard:  # a snapshot in progress finishes first
                    self._switch(self.adopt)
                return
            if self.reloader.pending is not None:  # a new pairing waits for the user
                await self._wait(None)
                continue
            now = time.monotonic()
            due_rechecks(self.rechecks, self.pending, now)
            delay = wait_time(self.pending, now, self.cfg.debounce, self.cfg.max_delay)
            if self.rechecks:
                until = min(self.rechecks.values()) - now
                delay = until if delay is None else min(delay, until)
            if delay is None or delay > 0:
                await self._wait(delay)
                continue
            work, self.pending = self.pending, Pending()
            remote_paths, self.remote_paths = self.remote_paths, set()
            if self.own.only(self.session, work, remote_paths):
                self.stats.suppressed += 1
                continue
            if self.blocks.current is not None:  # re-check first; still refused: the rest runs
                if not await self.blocks.recheck(self.session):
                    work = unblocked(work, self.blocks.current, self.cfg)
                    if not work:
                        continue
                work.full |= self.blocks.current is None  # lifted: a normal full cycle
            await self._execute(work)
            self.pending.slow |= self.intake.waiting()  # changed during the run: a burst
            self.liveness.check()

    # ------------------------------------------------------------------ running work

    async def _execute(self, work: Pending) -> None:
        self.running = True
        started, since = time.monotonic(), time.time()
        refusal: str | None = None
        try:
            async with self.run_guard:
                report = await self._run(work)
        except SafetyRefusal as exc:
            logger.log("DEBUG" if exc.fix == self.blocks.fix else "ERROR", "{}", exc)
            report, refusal = None, exc.fix
        except Exception as exc:  # the daemon never dies of a sync failure
            logger.error("run failed: {}", exc)
            report = None
        finally:
            self.running, self.progress.current = False, None
        self.stats.cycles += 1
        if work.full:
            self.last_full = time.monotonic()
        if report is not None and (report.ok or report.stalled_only):
            # stalled paths synced apart are named by `status`; the rest synced: no backoff,
            # they are tried again with the next run
            self.blocks.succeeded(report)
            self.failures = 0
            return
        block = block_for(self.session, report, refusal, since)
        if block is not None:
            self.blocks.enter(block)
            return
        self.failures += 1
        self.stats.failures += 1
        delay = backoff_delay(self.failures, cap=BACKOFF_CAP, jitter=random.uniform(0, 0.25))  # noqa: S311
        logger.warning(
            "retrying in {:.0f} s (attempt {}, run took {:.1f} s)",
            delay,
            self.failures + 1,
            time.monotonic() - started,
        )
        with anyio.move_on_after(delay):  # new file events wait too; a trigger does not
            await self.kick.wait()
        self.kick = anyio.Event()
        self.pending.merge(work.retry())

    async def _run(self, work: Pending) -> CycleReport:
        self.own.started()
        hook = self.own.hook(self.cfg, self.progress.on_event)
        report = await run_work(self.session, work, self.known_dest_files, hook)
        for record in report.records:
            if record.kind == "push" and record.dest_files is not None:
                self.known_dest_files = record.dest_files
        note_rechecks(self.rechecks, report, time.monotonic())
        return report


__all__ = ["Daemon", "DaemonStats", "watch_roots"]
