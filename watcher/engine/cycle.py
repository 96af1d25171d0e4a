"""Run one cycle of the configured mode under the per-config run lock and record its outcome."""

from __future__ import annotations

import dataclasses
import errno
import time
from collections.abc import Collection
from dataclasses import dataclass, field

from loguru import logger

from watcher.engine.bisync import run_bisync
from watcher.engine.drain import Drain
from watcher.engine.failing import PathFailures, update_failing
from watcher.engine.guard import FORCE_FIX
from watcher.engine.incremental import NeedsFullPush, run_incremental_push
from watcher.engine.ingest import run_ingest
from watcher.engine.links import dangerous_links
from watcher.engine.lock import LOCK_WAIT
from watcher.engine.mounted import looks_unmounted, sync_root_gone, synced_before
from watcher.engine.moves import push_with_moves
from watcher.engine.oneway import run_one_way
from watcher.engine.session import Session
from watcher.engine.state import CYCLE_RECORD, RunRecord, forget_run, record_run
from watcher.errors import SafetyRefusal, SyncFailed
from watcher.plan import INBOX, Direction, Step, StepKind, plan_cycle
from watcher.plan.moves import Move
from watcher.rclone.causes import find_cause
from watcher.rclone.runner import EventHook

#: Seconds a whole cycle may take beyond ``timeout`` (the cycle deadline is ``timeout`` plus
#: this, counted from when the run lock is held).
CYCLE_GRACE = 10.0


@dataclass(frozen=True)
class StepOptions:
    """How the steps of one cycle run (see :func:`run_cycle`)."""

    dry_run: bool = False
    force: bool = False
    resync: bool = False
    push_paths: Collection[str] | None = None
    known_dest_files: int | None = None
    settle_wait: bool = True
    moves: tuple[Move, ...] = ()


@dataclass
class CycleReport:
    """The records of a cycle's steps; ``ok`` when every step succeeded."""

    records: list[RunRecord] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.records)

    @property
    def stalled_only(self) -> bool:
        """Not ok only because stalled paths synced apart still fail (the rest made it)."""
        return not self.ok and all(r.ok or r.stalled_only for r in self.records)

    @property
    def fixes(self) -> list[str]:
        """Commands that resolve refused steps, in step order."""
        return [r.fix for r in self.records if r.fix]


async def run_step(
    session: Session,
    step: Step,
    *,
    dry_run: bool,
    force: bool,
    resync: bool,
    push_paths: Collection[str] | None = None,
    known_dest_files: int | None = None,
    settle_wait: bool = True,
    moves: tuple[Move, ...] = (),
) -> RunRecord:
    """Execute one planned step (a push of ``push_paths`` only, when given; ``settle_wait``:
    see :meth:`Drain.run`; ``moves``: folder renames the push or bisync does first)."""
    if step.kind == "push" and moves and not dry_run and not force:
        return await push_with_moves(session, step, moves, push_paths, known_dest_files)
    if step.kind == "push" and push_paths is not None and not dry_run and not force:
        try:
            return await run_incremental_push(
                session, step, push_paths, known_dest_files=known_dest_files
            )
        except NeedsFullPush as reason:
            logger.info("push: full push instead of incremental ({})", reason)
    if step.kind in ("push", "pull"):
        return await run_one_way(session, step, dry_run=dry_run, force=force)
    if step.kind == "drain":
        return await Drain(session, step).run(dry_run=dry_run, settle_wait=settle_wait)
    if step.kind == "ingest":
        return await run_ingest(session, step, dry_run=dry_run)
    if dry_run or force or resync:
        moves = ()
    return await run_bisync(session, step, dry_run=dry_run, force=force, resync=resync, moves=moves)


def _gate(session: Session, steps: tuple[Step, ...], *, force: bool, dry_run: bool) -> None:
    """:func:`_check_workspace`, remembered: a cycle it stops (no step runs) is recorded as a
    failed run under :data:`CYCLE_RECORD` with its fix (``status`` must not say ``ok`` after
    it), forgotten once a cycle gets past the checks; dry runs record nothing."""
    try:
        _check_workspace(session, steps, force=force)
    except SyncFailed as exc:
        if not dry_run:
            fix = exc.fix if isinstance(exc, SafetyRefusal) else None
            record = RunRecord(CYCLE_RECORD, False, str(exc), time.time(), 0.0, fix=fix)
            record_run(session.paths, record)
        raise
    if not dry_run:
        forget_run(session.paths, CYCLE_RECORD)


def _check_workspace(session: Session, steps: tuple[Step, ...], *, force: bool = False) -> None:
    cfg = session.cfg
    reads_workspace = any(s.kind in ("push", "bisync", "ingest") for s in steps)
    # a drain or pull would create it: on the root file system, under a removed mount point
    if not cfg.workspace.is_dir() and (reads_workspace or (steps and synced_before(session))):
        raise SyncFailed(
            f"workspace {cfg.workspace} does not exist (unmounted?); mount or create it, or fix "
            "'workspace' in the config; nothing was changed"
        )
    if not force and looks_unmounted(session, steps):
        fix = cfg.command(FORCE_FIX)
        raise SafetyRefusal(
            f"workspace {cfg.workspace} is an empty folder although this config has synced "
            "before (unmounted?); nothing was changed. Mount it, or if it is really meant to "
            f"be empty run `{fix}`",
            fix,
        )
    if not force and sync_root_gone(session, steps):
        fix = cfg.command(FORCE_FIX)
        raise SafetyRefusal(
            f"sync root {cfg.sync_root} does not exist although this config has synced before "
            "(moved away, unmounted?); nothing was changed. Put it back, or to fill a new, "
            f"empty folder there run `{fix}`",
            fix,
        )
    if cfg.copy_symlinks:
        roots = {cfg.sync_root} | ({cfg.ingest_root} if cfg.ingest else set())
        problems = [p for root in sorted(roots) for p in dangerous_links(root)]
        if problems:
            raise SafetyRefusal(
                f"copy_symlinks = true, but {len(problems)} links would be followed out of "
                f"control: {'; '.join(problems[:3])}; nothing was changed",
                "remove or exclude those links, or set copy_symlinks = false",
            )


def transport_stop(record: RunRecord) -> str | None:
    """Why the cycle's remaining steps must not run after ``record``: the remote could not be
    reached at all (refused, timed out, DNS, TLS; every further call would wait or fail the
    same way); ``None`` after a success or any other failure."""
    if record.ok:
        return None
    cause = find_cause([record.message])
    if cause is None or not cause.transport:
        return None
    return f"{record.kind} could not reach the remote: {cause.label}"


def _prepare_inbox(
    session: Session,
    direction: Direction | None,
    *,
    dry_run: bool,
    only: Collection[StepKind] | None,
) -> str | None:
    """Bootstrap the mailbox's local ``_inbox`` before a full cycle; the reason the drain
    cannot run when it cannot be created (e.g. a read-only workspace: the push, which only
    reads, still runs), else ``None``."""
    cfg = session.cfg
    if cfg.mode != "mailbox" or direction is not None or dry_run or only is not None:
        return None
    inbox = cfg.sync_root / INBOX
    try:
        inbox.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if exc.errno == errno.EROFS:
            why = "read-only"
        return (
            f"cannot create {INBOX} in {cfg.sync_root}: {why}; inbound files wait until it "
            "is writable"
        )
    return None


async def _run_logged(session: Session, step: Step, started: float, opts: StepOptions) -> RunRecord:
    """Run one step; a :class:`SyncFailed` becomes a failed record; the outcome is logged as
    the step's summary line."""
    try:
        record = await run_step(
            session,
            step,
            dry_run=opts.dry_run,
            force=opts.force,
            resync=opts.resync,
            push_paths=opts.push_paths,
            known_dest_files=opts.known_dest_files,
            settle_wait=opts.settle_wait,
            moves=opts.moves,
        )
    except SyncFailed as exc:
        fix = exc.fix if isinstance(exc, SafetyRefusal) else None
        logger.bind(summary=True).error("{}", exc)
        return RunRecord(step.kind, False, str(exc), started, time.time() - started, fix=fix)
    logger.bind(summary=True).log(
        "INFO" if record.ok else "ERROR",
        "{}: {} ({:.1f} s)",
        step.kind,
        record.message,
        record.duration,
    )
    return record


async def _run_steps(
    session: Session,
    steps: tuple[Step, ...],
    opts: StepOptions,
    limits: tuple[float, str | None],
    failures: PathFailures,
    report: CycleReport,
) -> None:
    """Run ``steps`` in order into ``report`` (see :func:`run_cycle`): after a transport
    failure or past ``deadline`` the remaining steps, and a drain without its ``_inbox``, are
    recorded as failed without running. ``limits`` is the deadline and why the drain cannot
    run (or ``None``); the paths rclone names in error lines are counted per step in
    ``failures``."""
    deadline, inbox_problem = limits
    stop: str | None = None  # why the remaining steps do not run
    for step in steps:
        started = time.time()
        failures.start(step.kind)
        if stop is None and time.monotonic() >= deadline:
            stop = f"cycle deadline reached ({session.cfg.timeout} s + {CYCLE_GRACE:.0f} s)"
        if stop is not None or (step.kind == "drain" and inbox_problem):
            why = stop or inbox_problem
            record = RunRecord(step.kind, False, f"not run: {why}", started, 0.0)
            logger.bind(summary=True).error("{}: not run: {}", step.kind, why)
        else:
            record = await _run_logged(session, step, started, opts)
            stop = transport_stop(record)
        record.dry_run = opts.dry_run
        if not opts.dry_run:
            record_run(session.paths, record)
            covered = opts.push_paths if step.kind == "push" and not opts.force else None
            update_failing(session.paths, step.kind, record.ok, failures.failed, covered)
        report.records.append(record)


async def _planned_steps(
    session: Session,
    direction: Direction | None,
    resync: bool,
    only: Collection[StepKind] | None,
) -> tuple[Step, ...]:
    """The cycle's steps (those of ``only`` kinds), planned for what the backend keeps."""
    features = await session.features()
    modtime = features is None or features.modtime
    planned = plan_cycle(session.cfg, direction=direction, resync=resync, remote_modtime=modtime)
    return tuple(s for s in planned if only is None or s.kind in only)


async def run_cycle(
    session: Session,
    *,
    direction: Direction | None = None,
    dry_run: bool = False,
    force: bool = False,
    resync: bool = False,
    lock_wait: float | None = None,
    only: Collection[StepKind] | None = None,
    push_paths: Collection[str] | None = None,
    known_dest_files: int | None = None,
    on_event: EventHook | None = None,
    settle_wait: bool = True,
    moves: tuple[Move, ...] = (),
) -> CycleReport:
    """Run every step of one cycle; a failed step is recorded and the next ones still run,
    unless it could not reach the remote (:func:`transport_stop`): then the remaining steps
    are recorded as failed without running. One deadline (``timeout`` + :data:`CYCLE_GRACE`)
    bounds the whole cycle: each rclone run gets at most the time left, and a step due after
    it is recorded as failed ("cycle deadline reached") without running.

    Raises :class:`~watcher.engine.lock.LockHeld` when another run holds the lock past
    ``lock_wait`` seconds (default :data:`LOCK_WAIT`). ``only`` limits the cycle to some step
    kinds; ``push_paths`` makes the push incremental (``known_dest_files`` is the destination
    size seen by the last full push, for the delete guard). ``on_event`` sees every parsed
    rclone log line of the cycle's runs, tagged with the step kind under ``step`` (the CLI
    drives its progress display with the stats lines, the daemon publishes them). Paths
    rclone names in error lines are counted in ``failing-paths.json``. ``settle_wait`` lets a
    drain wait briefly for inbound files that are about to settle (one-shot runs); the daemon
    passes False and comes back at the record's ``recheck``. ``moves``: folder renames done
    on the remote before the push or the bisync run (:mod:`watcher.engine.moves`)."""
    cfg = session.cfg
    failures = PathFailures(forward=on_event)
    session = dataclasses.replace(session, rc=session.rc.with_event_hook(failures.hook))
    steps = await _planned_steps(session, direction, resync, only)
    report = CycleReport()
    wait = LOCK_WAIT if lock_wait is None else lock_wait
    async with session.run_lock(wait):
        deadline = time.monotonic() + cfg.timeout + CYCLE_GRACE
        session = dataclasses.replace(session, rc=session.rc.with_deadline(deadline))
        _gate(session, steps, force=force, dry_run=dry_run)
        inbox_problem = _prepare_inbox(session, direction, dry_run=dry_run, only=only)
        opts = StepOptions(dry_run, force, resync, push_paths, known_dest_files, settle_wait, moves)
        await _run_steps(session, steps, opts, (deadline, inbox_problem), failures, report)
    return report
