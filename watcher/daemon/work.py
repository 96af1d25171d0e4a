"""Turn a batch of pending work into one cycle run (the full cycle or only the steps asked
for), and the rechecks of inbound files that were still being written."""

from __future__ import annotations

from loguru import logger

from watcher.daemon.debounce import CLOSE_QUIET, Pending
from watcher.engine import CycleReport, Session, run_cycle
from watcher.plan import StepKind
from watcher.rclone.features import listed_push_flags
from watcher.rclone.runner import EventHook


async def run_work(
    session: Session,
    work: Pending,
    known_dest_files: int | None,
    on_event: EventHook | None = None,
) -> CycleReport:
    """Run ``work``: a full cycle, or the steps it names (an incremental push of its paths);
    ``known_dest_files`` is the push destination's file count from the last listing;
    ``on_event`` sees the cycle's rclone log lines (progress)."""
    moves = tuple(work.moves.moves)
    if work.all_closed():
        logger.debug(
            "{} changed file(s) closed after writing: running after {:g} s of quiet, not the "
            "{:g} s debounce",
            len(work.paths) + len(moves),
            min(CLOSE_QUIET, session.cfg.debounce),
            session.cfg.debounce,
        )
    if work.full:
        report = await run_cycle(session, settle_wait=False, on_event=on_event, moves=moves)
        if report.ok and work.carry and await _full_cannot_see(session):
            again = await run_cycle(
                session,
                only={"push"},
                push_paths=work.carry,
                known_dest_files=known_dest_files,
                settle_wait=False,
                on_event=on_event,
            )
            report.records += again.records
        return report
    only: set[StepKind] = set()
    if work.paths or (moves and session.cfg.mode == "mailbox"):
        only.add("push")
    for kind in ("drain", "ingest", "pull", "bisync"):
        if getattr(work, kind):
            only.add(kind)
    return await run_cycle(
        session,
        only=only,
        push_paths=work.paths if work.paths or moves else None,
        known_dest_files=known_dest_files,
        settle_wait=False,
        on_event=on_event,
        moves=moves,
    )


async def _full_cannot_see(session: Session) -> bool:
    """True when a full mailbox push may skip a same-size edit (coarse or no modtimes, or
    unknown): changed paths a full cycle took over are then pushed as listed paths too."""
    features = await session.features()
    return session.cfg.mode == "mailbox" and bool(listed_push_flags(features))


def due_rechecks(rechecks: dict[str, float], pending: Pending, now: float) -> None:
    """Turn due rechecks (inbound files that were still being written) into work."""
    for kind, when in list(rechecks.items()):
        if when <= now:
            del rechecks[kind]
            setattr(pending, kind, True)
            pending.urgent = True
            pending.touch(now)


def note_rechecks(rechecks: dict[str, float], report: CycleReport, now: float) -> None:
    """Schedule the drain or ingest step again for inbound files that had not settled."""
    for record in report.records:
        if record.kind in ("drain", "ingest") and record.recheck is not None:
            when = now + record.recheck
            rechecks[record.kind] = min(rechecks.get(record.kind, when), when)
            logger.debug(
                "{}: {} inbound files still being written; looking again in {:.1f} s",
                record.kind,
                record.unsettled,
                record.recheck,
            )
