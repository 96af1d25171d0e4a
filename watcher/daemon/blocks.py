"""The daemon's *blocked* state: a run refused for safety is not retried blindly. The block
lifts when the named fix (or any successful run of the refused step kinds) succeeds in any
process — every run is recorded in the state dir's ``last-runs.json``, which the daemon polls —
or when a cheap re-check finds the refusing condition gone."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from loguru import logger

from watcher.config import Config
from watcher.daemon.debounce import Pending
from watcher.engine import CycleReport, Session
from watcher.engine.bisync import baseline_empty, baseline_present
from watcher.engine.empty_baseline import plan_sides
from watcher.engine.guard import check_one_way
from watcher.engine.mounted import looks_unmounted, sync_root_gone
from watcher.engine.oneway import guard_listings
from watcher.engine.state import StatePaths, last_runs
from watcher.errors import SyncFailed
from watcher.plan import local_remote_dir, plan_cycle

#: How often a blocked daemon looks at ``last-runs.json`` for a successful run elsewhere.
BLOCK_POLL = 0.5
#: How often a blocked daemon re-checks (cheaply, without running rclone sync) whether the
#: refusing condition is gone: a local remote, and a cloud one (each re-check lists both
#: sides, which costs API calls there).
BLOCK_RECHECK = 10.0
BLOCK_RECHECK_CLOUD = 60.0
#: On a cloud remote, file events re-check at most this often (a busy workspace would
#: otherwise list both sides after every debounced batch).
EVENT_RECHECK_CLOUD = 10.0


def recheck_every(cfg: Config) -> float:
    """Seconds between periodic re-checks of a block's condition for ``cfg``'s remote."""
    return BLOCK_RECHECK if local_remote_dir(cfg) is not None else BLOCK_RECHECK_CLOUD


@dataclass(frozen=True)
class Block:
    """Why the daemon does not run: ``fix`` is the command that resolves it; a successful,
    real (not dry) run of one of ``kinds`` that started at or after ``since`` lifts it.
    ``cycle`` marks a refusal of the whole cycle (the empty-workspace check)."""

    fix: str
    kinds: frozenset[str]
    since: float
    cycle: bool = False


def block_for(
    session: Session, report: CycleReport | None, refusal: str | None, since: float
) -> Block | None:
    """The block a finished run puts the daemon in (``None`` when nothing was refused)."""
    if report is not None and report.fixes:
        kinds = frozenset(r.kind for r in report.records if r.fix)
        return Block(report.fixes[0], kinds, since)
    if refusal is not None:  # refused before any step: the empty-workspace (or links) check
        kinds = frozenset(step.kind for step in plan_cycle(session.cfg))
        return Block(refusal, kinds, since, cycle="--force" in refusal.split())
    return None


def lifted_by(paths: StatePaths, block: Block) -> tuple[str, int] | None:
    """``(kind, pid)`` of a recorded successful run that lifts ``block``, if any."""
    runs = last_runs(paths)
    for kind in sorted(block.kinds):
        run = runs.get(kind)
        if not isinstance(run, dict) or not run.get("ok") or run.get("dry_run"):
            continue
        started = run.get("started")
        if isinstance(started, (int, float)) and started >= block.since:
            pid = run.get("pid")
            return kind, pid if isinstance(pid, int) else 0
    return None


async def still_refused(session: Session, block: Block) -> bool | None:
    """Re-check the refusing condition without running a sync: ``True`` while it holds,
    ``False`` once it is gone, ``None`` when it cannot be checked cheaply (a bisync abort, a
    link problem): then only a run tells."""
    cfg = session.cfg
    if block.cycle:
        if not cfg.workspace.is_dir():
            return True
        steps = plan_cycle(cfg)
        return looks_unmounted(session, steps) or sync_root_gone(session, steps)
    if block.kinds == {"bisync"} and "--resync" in block.fix.split():
        return await _resync_needed(session)
    kinds = block.kinds & {"push", "pull"}
    if not kinds or kinds != block.kinds:
        return None
    for kind in sorted(kinds):
        step = plan_cycle(cfg, direction=kind)[0]  # type: ignore[arg-type]
        filters = step.filter.rclone_args() + session.link_args()
        try:
            src, dst, _ = await guard_listings(session, step, filters, probe=False)
        except SyncFailed as exc:
            logger.debug("blocked: re-check failed: {}", exc)
            return True
        if check_one_way(step.src, step.dst, src, dst, cfg.max_delete).refuse:
            return True
    return False


async def _resync_needed(session: Session) -> bool:
    """Whether a bisync block that a resync resolves still holds: while there is no baseline,
    and after an empty baseline while some path exists on both sides (the run would refuse
    again: re-running it would be a loop of lifts and refusals)."""
    cfg = session.cfg
    step, workdir = plan_cycle(cfg)[0], session.paths.bisync_workdir
    if not baseline_present(workdir, step, cfg):
        return True
    if not baseline_empty(workdir, step, cfg):
        return False
    try:
        return (await plan_sides(session, step)).action == "blocked"
    except SyncFailed as exc:
        logger.debug("blocked: re-check failed: {}", exc)
        return True


class Blocks:
    """The current block of a daemon (or none) and the clock of its re-checks."""

    def __init__(self) -> None:
        self.current: Block | None = None
        self.rechecked = 0.0
        self._stamp: tuple[int, int] | None = None
        self._lifted = anyio.Event()

    async def wait_lift(self, timeout: float) -> None:
        """Sleep ``timeout`` seconds, less when a block lifts meanwhile (``daemon.json`` is
        then rewritten at once, so ``status`` sees the lift within the promised 2 s)."""
        with anyio.move_on_after(timeout):
            await self._lifted.wait()
        if self._lifted.is_set():
            self._lifted = anyio.Event()

    @property
    def fix(self) -> str | None:
        """The command that resolves the current block (``daemon.json`` ``blocked``)."""
        return self.current.fix if self.current is not None else None

    def enter(self, block: Block) -> None:
        """Block (or stay blocked); logged once per new fix, not on every refused re-check."""
        if self.current is None or self.current.fix != block.fix:
            logger.error(
                "blocked: not retrying until the cause is gone; to resolve run `{}`", block.fix
            )
        else:
            logger.debug("still blocked: `{}`", block.fix)
            block = Block(block.fix, block.kinds, self.current.since, block.cycle)
        self.current, self.rechecked = block, time.monotonic()

    def succeeded(self, report: CycleReport) -> None:
        """A run succeeded: lift the block if it ran a step the block held back."""
        block = self.current
        if block is not None and (
            block.cycle or any(r.kind in block.kinds for r in report.records)
        ):
            self.clear("a guarded run succeeded")

    def clear(self, reason: str | None = None) -> None:
        """Lift the block (``reason`` is logged when one was in place)."""
        if self.current is not None:
            if reason:
                logger.info("no longer blocked: {}", reason)
            self._lifted.set()
        self.current, self._stamp = None, None

    def poll(self, paths: StatePaths) -> bool:
        """Lift the block when a run recorded since it was set resolves it (cheap: the file
        is read only when its mtime or size changed). True when it was lifted."""
        block = self.current
        if block is None:
            return False
        try:
            st = paths.last_runs.stat()
        except OSError:
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        found = lifted_by(paths, block)
        if found is None:
            return False
        kind, pid = found
        self.clear(f"`{block.fix}` succeeded (pid {pid}, {kind})")
        return True

    def recheck_due(self, now: float, every: float = BLOCK_RECHECK) -> bool:
        """True when the periodic cheap re-check of the condition is due (``every`` seconds
        after the last one)."""
        return self.current is not None and now - self.rechecked >= every

    async def recheck(self, session: Session) -> bool:
        """Re-check the condition now: True when the block was lifted (the cause is gone)
        or cannot be checked cheaply (then the caller runs and the run decides); on a cloud
        remote at most every :data:`EVENT_RECHECK_CLOUD` s (False meanwhile)."""
        block = self.current
        if block is None:
            return True
        now = time.monotonic()
        if local_remote_dir(session.cfg) is None and now - self.rechecked < EVENT_RECHECK_CLOUD:
            return False  # checked moments ago: still refused until the next re-check
        self.rechecked = now
        refused = await still_refused(session, block)
        if refused is None:
            return True
        if refused:
            logger.debug("still blocked (re-checked): `{}`", block.fix)
            return False
        self.clear(f"the cause is gone (re-checked `{block.fix}`)")
        return True


def unblocked(work: Pending, block: Block, cfg: Config) -> Pending:
    """The part of ``work`` a block does not hold back (e.g. the mailbox drain while the push
    is refused: inbound files still land); empty when everything waits for the lift."""
    planned = {step.kind for step in plan_cycle(cfg)} if work.full else set()
    out = Pending(urgent=work.urgent, first_event=work.first_event, last_event=work.last_event)
    for kind in ("drain", "ingest", "pull", "bisync"):
        wanted = getattr(work, kind) or kind in planned
        setattr(out, kind, wanted and kind not in block.kinds)
    if "push" not in block.kinds:
        out.paths, out.moves = set(work.paths), work.moves
    return out


async def block_loop(
    blocks: Blocks,
    session: Callable[[], Session],
    busy: Callable[[], bool],
    resume: Callable[[], None],
) -> None:
    """While blocked: lift the block within :data:`BLOCK_POLL` s of a resolving run in any
    process, and re-check the condition every :func:`recheck_every` s; ``resume`` (a full
    cycle) follows a lift."""
    while True:
        await anyio.sleep(BLOCK_POLL)
        if blocks.current is None or busy():
            continue
        current = session()
        if blocks.poll(current.paths):
            resume()
        elif blocks.recheck_due(time.monotonic(), recheck_every(current.cfg)):
            blocks.rechecked = time.monotonic()
            if await still_refused(current, blocks.current) is False:
                blocks.clear(f"the cause is gone (re-checked `{blocks.fix}`)")
                resume()


__all__ = [
    "BLOCK_POLL",
    "BLOCK_RECHECK",
    "BLOCK_RECHECK_CLOUD",
    "EVENT_RECHECK_CLOUD",
    "Block",
    "Blocks",
    "block_for",
    "block_loop",
    "lifted_by",
    "unblocked",
]
