"""Mirror ingest: upload new or changed files of the local ingest folder to the remote
``_outbox`` (additive, never deleting remotely, never overwriting).

Order of operations, so that nothing is lost or sent twice:

1. list the ingest folder; the files that are new or changed since the ledger are the candidates;
2. keep only the settled ones (:mod:`watcher.engine.settle`: unchanged for ``outbox_settle``
   seconds, not open for writing); the rest wait for a later run (``RunRecord.unsettled`` /
   ``recheck``);
3. list the remote ``_outbox`` (without the drain's ``.workspace-sync-*`` claim folders) and give
   every file a remote name that is free there (``report (1).txt`` beside a ``report.txt`` the
   gateway has not drained yet: the same rule as the drain, :mod:`watcher.engine.names`);
4. record the plan in the ledger as *pending*, then upload: files keeping their name in one
   ``rclone copy --files-from-raw``, renamed ones with ``rclone copyto`` each;
5. record what was sent (size, mtime, remote name). A pending entry found after a crash counts
   as sent only when the remote holds that name with that size and mtime.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from watcher.engine.arrival import Arrival, outbox_path, run_arrival_hook, workspace_relative
from watcher.engine.names import FreeNames, listing_lister
from watcher.engine.remote_root import create_remote_root
from watcher.engine.session import Session
from watcher.engine.settle import Readiness, local_ready
from watcher.engine.state import RunRecord, read_json, write_json
from watcher.errors import SyncFailed
from watcher.plan import Step, remote_join
from watcher.rclone import Entry, list_files
from watcher.rclone.encoding import line_safe, reachable

#: Top-level folders of ``_outbox`` with this prefix belong to the gateway's drain (claims).
DRAIN_PREFIX = ".workspace-sync-"

#: Why a file whose name is not valid UTF-8 is not ingested.
NOT_UTF8 = "name not valid UTF-8, rclone cannot open it by name; rename it"

#: Seconds of mtime difference still taken as the same version (remote mtime precision).
REMOTE_MTIME_SLACK = 1.0


@dataclass(frozen=True)
class Sent:
    """A file of the ingest folder as it was sent: local size and mtime, and its name in the
    remote ``_outbox``; ``pending`` while the upload has not been confirmed."""

    size: int
    mtime: float
    remote: str
    pending: bool = False

    def same_file(self, entry: Entry) -> bool:
        """True when the local ``entry`` is the version recorded here."""
        return entry.size == self.size and abs(entry.mtime - self.mtime) < 1e-3

    def landed_as(self, remote: Entry | None) -> bool:
        """True when the remote ``entry`` under :attr:`remote` is this upload."""
        return (
            remote is not None
            and remote.size == self.size
            and abs(remote.mtime - self.mtime) < REMOTE_MTIME_SLACK
        )


def _parse_sent(path: str, value: Any) -> Sent | None:
    """One ledger value: ``{"size", "mtime", "remote", "pending"}``, or the old ``[size,
    mtime]`` (sent under its own name)."""
    try:
        if isinstance(value, list) and len(value) == 2:
            return Sent(int(value[0]), float(value[1]), path)
        if isinstance(value, dict):
            return Sent(
                int(value["size"]),
                float(value["mtime"]),
                str(value.get("remote", path)),
                bool(value.get("pending", False)),
            )
    except (KeyError, TypeError, ValueError):
        pass
    return None


def load_ledger(path: Path) -> dict[str, Sent]:
    """The ingest ledger ``{local path: Sent}``; old ledgers (``{path: [size, mtime]}``) are
    read as files sent under their own name. Unreadable entries are dropped (sent again)."""
    raw = read_json(path, {})
    if not isinstance(raw, dict):
        return {}
    ledger = {str(key): _parse_sent(str(key), value) for key, value in raw.items()}
    return {key: sent for key, sent in ledger.items() if sent is not None}


def save_ledger(path: Path, ledger: dict[str, Sent]) -> None:
    """Write the ledger atomically, unless it holds exactly that already (an old ledger is
    rewritten in the current form)."""
    data = {key: asdict(sent) for key, sent in sorted(ledger.items())}
    if read_json(path, None) != data:
        write_json(path, data)


def changed_since(ledger: dict[str, Sent], listing: dict[str, Entry]) -> list[str]:
    """Paths of ``listing`` that are new, changed, or whose upload is not yet confirmed."""
    return sorted(
        path
        for path, entry in listing.items()
        if path not in ledger or ledger[path].pending or not ledger[path].same_file(entry)
    )


def plan_names(todo: list[str], in_use: list[str]) -> dict[str, str]:
    """A free remote name for each of ``todo`` given the remote files ``in_use`` (paths
    relative to ``_outbox``): its own name when free, else ``name (n).ext``."""
    names = FreeNames(listing_lister(in_use))
    return {path: names.claim(path) for path in todo}


def _is_claim(path: str) -> bool:
    return path.split("/", 1)[0].startswith(DRAIN_PREFIX)


async def _remote_outbox(session: Session, step: Step, *, create: bool) -> dict[str, Entry]:
    """The remote ``_outbox`` (a missing one is empty, and with ``create`` created, parents
    included: not every FTP server lets rclone upload into a missing folder), without the
    drain's claim folders."""
    args = ["--exclude", f"/{DRAIN_PREFIX}*/**"]
    entries = await list_files(session.rc, step.dst, args)
    if entries is None and create:
        await create_remote_root(session, step.dst)
    return {e.path: e for e in entries or [] if not _is_claim(e.path)}


def _confirm_pending(
    ledger: dict[str, Sent], ready: list[str], listing: dict[str, Entry], remote: dict[str, Entry]
) -> list[str]:
    """Pending uploads (a run that crashed or failed) that the remote shows as landed become
    sent; the files still to send are returned (a landed one is sent again only when it has
    changed locally since)."""
    todo = []
    for path in ready:
        sent = ledger.get(path)
        if sent is not None and sent.pending and sent.landed_as(remote.get(sent.remote)):
            ledger[path] = sent = Sent(sent.size, sent.mtime, sent.remote)
            logger.info("ingest: {} was already sent as {}", path, sent.remote)
            if sent.same_file(listing[path]):
                continue
        todo.append(path)
    return todo


@dataclass
class Upload:
    """What one ingest upload did."""

    sent: list[str]
    errors: list[str]
    #: Sizes rclone logged for what it uploaded (batch uploads, by local path).
    sizes: dict[str, int] = field(default_factory=dict)


async def upload(
    session: Session, step: Step, plan: dict[str, str], *, dry_run: bool = False
) -> Upload:
    """Copy the planned files: those keeping their name in one batch (``--files-from-raw``),
    renamed ones (and names a newline-delimited list cannot hold) one by one with ``copyto``."""
    batch = [p for p, r in plan.items() if p == r and line_safe(p)]
    single = [p for p in plan if p not in batch]
    done = Upload([], [])
    if dry_run:
        for path in plan:
            logger.info("would ingest {} -> {}", path, outbox_path(session.cfg, plan[path]))
        return Upload(list(plan), [])
    if batch:
        args = ["copy", step.src, step.dst, "--no-traverse", *session.link_args()]
        result = await session.rc.run(args, files_from=batch)
        done.sent += batch if result.ok else [p for p in batch if p in set(result.transferred)]
        done.errors += [] if result.ok else [result.message()]
        done.sizes.update(result.sizes)
    for path in single:
        src, dst = str(Path(step.src) / path), remote_join(step.dst, plan[path])
        result = await session.rc.run(["copyto", src, dst, *session.link_args()])
        if result.ok:
            done.sent.append(path)
        else:
            done.errors.append(f"{path}: {result.message()}")
    return done


def _as_sent(path: Path, listed: Entry, remote: str, uploaded: int | None) -> Sent:
    """The ledger entry of a file just sent: the listed version, unless the file was
    rewritten between the listing and rclone's read and rclone's logged size says it sent
    the new one (found by the convergence oracle: the new version was sent a second time).
    When unsure (no size logged, or the same size), the listed version: a second copy of a
    version can be made, never a version skipped."""
    try:
        st = path.stat()
    except OSError:
        return Sent(listed.size, listed.mtime, remote)
    if uploaded is not None and uploaded == st.st_size != listed.size:
        return Sent(st.st_size, st.st_mtime, remote)
    return Sent(listed.size, listed.mtime, remote)


def _settle(session: Session, root: Path, todo: list[str]) -> Readiness:
    found = local_ready(root, todo, session.cfg.outbox_settle)
    if found.waiting:
        logger.info(
            "ingest: {} file(s) still being written, checking again in {:.1f} s",
            len(found.waiting),
            found.recheck or 0.0,
        )
    return found


def _readable(entries: list[Entry]) -> tuple[dict[str, Entry], list[str]]:
    """The listed files by path, and apart the names rclone lists but cannot open (not valid
    UTF-8: rclone shows U+FFFD), each logged by name: they are reported, never sent."""
    unreadable = sorted(e.path for e in entries if not reachable(e.path))
    for path in unreadable:
        logger.warning("ingest: {} is not sent: {}", path, NOT_UTF8)
    return {e.path: e for e in entries if reachable(e.path)}, unreadable


def _record(
    started: float,
    done: Upload,
    settled: Readiness,
    *,
    dry_run: bool,
    note: str = "",
    unreadable: Sequence[str] = (),
) -> RunRecord:
    verb = "would send" if dry_run else "sent"
    message = done.errors[-1] if done.errors else note or f"{verb} {len(done.sent)}"
    if settled.waiting:
        message += f", {len(settled.waiting)} still being written"
    if unreadable:
        message += f", {len(unreadable)} not sent ({NOT_UTF8}): {', '.join(unreadable[:3])}"
    return RunRecord(
        "ingest",
        not done.errors,
        message,
        started,
        time.time() - started,
        transferred=len(done.sent),
        errors=len(done.errors),
        dry_run=dry_run,
        unsettled=len(settled.waiting),
        recheck=settled.recheck,
    )


async def _announce(
    session: Session, root: Path, plan: dict[str, str], listing: dict[str, Entry], sent: list[str]
) -> None:
    for path in sorted(sent):
        logger.info("ingested {} -> {}", path, outbox_path(session.cfg, plan[path]))
    arrivals = [
        Arrival(
            outbox_path(session.cfg, plan[p]),
            listing[p].size,
            workspace_relative(session.cfg, root / p),
        )
        for p in sorted(sent)
    ]
    await run_arrival_hook(session.cfg, "ingest", arrivals)


async def run_ingest(session: Session, step: Step, *, dry_run: bool = False) -> RunRecord:
    """Upload what is new and settled in the ingest folder under free remote names; raises
    :class:`SyncFailed` on failure."""
    started = time.time()
    root = Path(step.src)
    if not root.is_dir():
        if not dry_run:
            root.mkdir(parents=True, exist_ok=True)
        return RunRecord("ingest", True, "ingest folder is empty", started, 0.0, dry_run=dry_run)
    filters = step.filter.rclone_args() + session.link_args()
    listing, unreadable = _readable(await list_files(session.rc, step.src, filters) or [])
    ledger = {p: s for p, s in load_ledger(session.paths.ingest_ledger).items() if p in listing}
    settled = _settle(session, root, changed_since(ledger, listing))
    if not settled.ready:
        note = "nothing settled to ingest" if settled.waiting else "nothing new to ingest"
        if not dry_run:
            save_ledger(session.paths.ingest_ledger, ledger)
        return _record(
            started, Upload([], []), settled, dry_run=dry_run, note=note, unreadable=unreadable
        )
    remote = await _remote_outbox(session, step, create=not dry_run)
    todo = _confirm_pending(ledger, settled.ready, listing, remote)
    plan = plan_names(todo, list(remote))
    if not dry_run:
        pending = {p: Sent(listing[p].size, listing[p].mtime, r, True) for p, r in plan.items()}
        save_ledger(session.paths.ingest_ledger, {**ledger, **pending})
    done = await upload(session, step, plan, dry_run=dry_run)
    if not dry_run:
        # failed uploads stay pending: the next run checks the remote before sending again
        sent = {p: _as_sent(root / p, listing[p], plan[p], done.sizes.get(p)) for p in done.sent}
        save_ledger(session.paths.ingest_ledger, {**ledger, **pending, **sent})
        await _announce(session, root, plan, listing, done.sent)
    record = _record(started, done, settled, dry_run=dry_run, unreadable=unreadable)
    if not record.ok:
        raise SyncFailed(f"ingest failed: {record.message}")
    return record
