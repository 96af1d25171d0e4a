"""Mirror ingest: upload new or changed files of the local ingest folder to the remote
``_outbox`` (additive, never deleting remotely); a ledger stops a delivered file being sent again
unless it changes locally."""

from __future__ import annotations

import time
from pathlib import Path

from loguru import logger

from watcher.engine.arrival import Arrival, outbox_path, run_arrival_hook, workspace_relative
from watcher.engine.oneway import record_from
from watcher.engine.session import Session
from watcher.engine.state import RunRecord, read_json, write_json
from watcher.errors import SyncFailed
from watcher.plan import Step
from watcher.rclone import list_files


def changed_since(ledger: dict[str, list[float]], listing: dict[str, list[float]]) -> list[str]:
    """Paths of ``listing`` that are new or whose [size, mtime] differs from ``ledger``."""
    return sorted(
        path
        for path, (size, mtime) in listing.items()
        if path not in ledger or ledger[path][0] != size or abs(ledger[path][1] - mtime) >= 1e-3
    )


async def run_ingest(session: Session, step: Step, *, dry_run: bool = False) -> RunRecord:
    """Upload what is new in the ingest folder; raises :class:`SyncFailed` on failure."""
    started = time.time()
    root = Path(step.src)
    if not root.is_dir():
        if not dry_run:
            root.mkdir(parents=True, exist_ok=True)
        return RunRecord("ingest", True, "ingest folder is empty", started, 0.0, dry_run=dry_run)
    filters = step.filter.rclone_args() + session.link_args()
    entries = await list_files(session.rc, step.src, filters) or []
    listing = {e.path: [float(e.size), e.mtime] for e in entries}
    raw = read_json(session.paths.ingest_ledger, {})
    ledger: dict[str, list[float]] = raw if isinstance(raw, dict) else {}
    todo = changed_since(ledger, listing)
    if not todo:
        return RunRecord(
            "ingest", True, "nothing new to ingest", started, time.time() - started, dry_run=dry_run
        )
    # The list is already filtered: rclone will not combine --files-from-raw with filters.
    args = ["copy", step.src, step.dst, "--no-traverse", *session.link_args()]
    result = await session.rc.run([*args, "--dry-run"] if dry_run else args, files_from=todo)
    record = record_from("ingest", result, started, dry_run=dry_run)
    if not dry_run:
        sent = set(result.transferred) if not result.ok else set(todo)
        new_ledger = {p: v for p, v in ledger.items() if p in listing}
        new_ledger.update({p: listing[p] for p in sent if p in listing})
        write_json(session.paths.ingest_ledger, new_ledger)
        for path in sorted(sent):
            logger.info("ingested {} -> {}", path, step.dst)
        cfg = session.cfg
        arrivals = [
            Arrival(outbox_path(cfg, p), int(listing[p][0]), workspace_relative(cfg, root / p))
            for p in sorted(sent)
            if p in listing
        ]
        await run_arrival_hook(cfg, "ingest", arrivals)
    if not record.ok:
        raise SyncFailed(f"ingest failed: {record.message}")
    return record
