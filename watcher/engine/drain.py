"""Mailbox drain: move files from the remote ``_outbox`` into the local ``_inbox``.

Order of operations, so that a crash at any point neither loses nor duplicates a file:

1. list the remote outbox; give every new file a local name that is free (``a (1).txt``
   beside an existing ``a.txt``) and write the journal (remote path, size, mtime -> name);
2. copy the files into a staging folder inside ``_inbox`` with one rclone call;
3. link each staged file to its name (never replacing an existing file), unlink the staged copy,
   and fsync the landed files and their folders (rclone does not fsync what it writes: without
   this a power cut after step 4 could lose a file on both sides); record them as landed;
4. delete from the remote exactly the files that landed with the journalled size, and only while
   the remote file is still the journalled version;
5. forget the finished journal entries.

A rerun reads the journal first: landed files are not copied again, and pending ones keep the name
they were given.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import anyio
from loguru import logger

from watcher.engine.arrival import Arrival, outbox_path, run_arrival_hook, workspace_relative
from watcher.engine.names import FreeNames, folder_lister
from watcher.engine.session import Session
from watcher.engine.state import RunRecord, read_json, write_json
from watcher.errors import SyncFailed
from watcher.fsutil import fsync_files, fsync_folders
from watcher.plan import Step
from watcher.rclone import Entry, list_files

STAGING = ".workspace-sync-incoming"


@dataclass
class JournalEntry:
    """One inbound file: where it is remotely, its identity, and its local name in ``_inbox``."""

    remote: str
    size: int
    mtime: float
    target: str
    landed: bool = False

    def matches(self, entry: Entry) -> bool:
        """True when the remote ``entry`` is the version this journal entry recorded."""
        return entry.size == self.size and abs(entry.mtime - self.mtime) < 1e-3


def _read_journal(path: Path) -> list[JournalEntry]:
    raw = read_json(path, [])
    return [JournalEntry(**item) for item in raw] if isinstance(raw, list) else []


def merge_journals(*journals: list[JournalEntry]) -> list[JournalEntry]:
    """Every entry of every journal, once: entries for the same remote version and local name
    are one (landed if either says so); different local names for one version are all kept (a
    file that may have landed twice is better than one that may be lost)."""
    merged: dict[tuple[str, int, float, str], JournalEntry] = {}
    for journal in journals:
        for entry in journal:
            key = (entry.remote, entry.size, round(entry.mtime, 3), entry.target)
            if key in merged:
                merged[key].landed |= entry.landed
            else:
                merged[key] = JournalEntry(**asdict(entry))
    return list(merged.values())


def _landed(inbox: Path, entry: JournalEntry) -> bool:
    if entry.landed:
        return True
    target = inbox / entry.target
    return target.is_file() and not target.is_symlink() and target.stat().st_size == entry.size


def _local_failure(exc: OSError) -> str:
    """One line for a failed local file operation of the drain."""
    if isinstance(exc, SyncFailed):  # already says which file and why
        reason = str(exc)
    else:
        where = f"{exc.filename}: " if exc.filename else ""
        reason = f"{where}{exc.strerror or exc}"
    return f"drain failed: {reason}; files that have not landed stay in the remote outbox"


def _place(staged: Path, target: Path) -> bool:
    """Give the staged file its final name without replacing anything; True when placed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(staged, target)
    except FileExistsError:
        return False
    except OSError:  # no hard links on this file system: check, then rename
        if os.path.lexists(target):
            return False
        staged.replace(target)
        return True
    staged.unlink()
    return True


class Drain:
    """One drain of ``step.src`` (remote ``_outbox``) into ``step.dst`` (local ``_inbox``)."""

    def __init__(self, session: Session, step: Step) -> None:
        self.session = session
        self.step = step
        self.inbox = Path(step.dst)
        self.staging = self.inbox / STAGING
        self.journal_path = session.paths.drain_journal
        self.legacy_path = session.paths.legacy_drain_journal
        self._carry_over = False
        self.filters = step.filter.rclone_args() + session.link_args()

    def load_journal(self) -> list[JournalEntry]:
        """The pair's journal merged with a journal left in the config's own state folder by
        an older version (dropped by the next :meth:`save_journal`, never before)."""
        entries = _read_journal(self.journal_path)
        if self.legacy_path != self.journal_path and self.legacy_path.exists():
            entries = merge_journals(entries, _read_journal(self.legacy_path))
            self._carry_over = True
        return entries

    def save_journal(self, entries: list[JournalEntry]) -> None:
        write_json(self.journal_path, [asdict(e) for e in entries])
        if self._carry_over:  # its entries are in the pair's journal now
            self.legacy_path.unlink(missing_ok=True)
            self._carry_over = False

    async def run(self, *, dry_run: bool = False) -> RunRecord:
        """Drain the outbox; returns what landed. Raises :class:`SyncFailed` on failure."""
        started = time.time()
        listing = await list_files(self.session.rc, self.step.src, self.filters)
        if listing is None:
            if not dry_run:
                await self._mkdir_outbox()
            listing = []
        if dry_run:
            for item in listing:
                logger.info("would drain {}", item.path)
            return RunRecord(
                "drain",
                True,
                f"would drain {len(listing)} files",
                started,
                time.time() - started,
                transferred=len(listing),
                dry_run=True,
            )
        try:
            landed, remaining, deleted, copy_error = await self._drain(listing)
        except OSError as exc:  # a full disk, a read-only inbox: nothing unlanded was deleted
            raise SyncFailed(_local_failure(exc)) from exc
        await self._announce(landed)
        message = f"drained {len(landed)} files"
        if remaining or copy_error:
            message += f"; {len(remaining)} not yet landed" + (
                f": {copy_error}" if copy_error else ""
            )
        record = RunRecord(
            "drain",
            not remaining and not copy_error,
            message,
            started,
            time.time() - started,
            transferred=len(landed),
            deleted=deleted,
            errors=len(remaining),
        )
        if not record.ok:
            raise SyncFailed(f"drain failed: {message}")
        return record

    async def _drain(
        self, listing: list[Entry]
    ) -> tuple[list[JournalEntry], list[JournalEntry], int, str]:
        """Steps 1-5 of the module docstring; returns (landed, not landed, remote deletes,
        the copy's error text)."""
        self.inbox.mkdir(parents=True, exist_ok=True)
        entries = self._plan(self.load_journal(), listing)
        self.save_journal(entries)
        pending = [e for e in entries if not _landed(self.inbox, e)]
        copy_error = await self._copy(pending) if pending else ""
        for entry in pending:
            staged = self.staging / entry.remote
            if staged.is_file() and staged.stat().st_size == entry.size:
                _place(staged, self.inbox / entry.target)
        fresh = [e for e in entries if not e.landed and _landed(self.inbox, e)]
        await anyio.to_thread.run_sync(self._make_durable, fresh)
        for entry in fresh:
            entry.landed = True
        self.save_journal(entries)  # landed files are never copied again, even if delete fails
        landed = [e for e in entries if e.landed]
        self._clean_staging(landed)
        deleted = await self._delete_remote(landed)
        remaining = [e for e in entries if not e.landed]
        self.save_journal(remaining)
        for entry in landed:
            note = (
                ""
                if entry.target == entry.remote
                else f" (kept beside an existing file as {entry.target})"
            )
            logger.info("inbound {} -> _inbox/{}{}", entry.remote, entry.target, note)
        return landed, remaining, deleted, copy_error

    def _make_durable(self, fresh: list[JournalEntry]) -> None:
        """fsync the files that landed in this drain, then once each the folders they were
        linked into and those created for them (up to the sync root), before the journal
        calls them landed and the remote copies are deleted."""
        if not fresh:
            return
        folders: set[Path] = {self.inbox.parent}
        for entry in fresh:
            parts = Path(entry.target).parts[:-1]
            folders.update(self.inbox.joinpath(*parts[:k]) for k in range(len(parts) + 1))
        fsync_files(self.inbox / e.target for e in fresh)
        fsync_folders(folders)

    def _plan(self, journal: list[JournalEntry], listing: list[Entry]) -> list[JournalEntry]:
        """Keep journal entries whose remote file is still there (same version) or that
        landed; add the new remote files under free local names."""
        remote = {e.path: e for e in listing}
        kept: list[JournalEntry] = []
        for entry in journal:
            current = remote.get(entry.remote)
            if (current is not None and entry.matches(current)) or _landed(self.inbox, entry):
                kept.append(entry)
        known = {(e.remote, e.size, round(e.mtime, 3)) for e in kept}
        names = FreeNames(folder_lister(self.inbox), {STAGING, *(e.target for e in kept)})
        for item in listing:
            if (item.path, item.size, round(item.mtime, 3)) in known:
                continue
            target = names.claim(item.path)
            kept.append(JournalEntry(item.path, item.size, item.mtime, target))
        return kept

    async def _announce(self, landed: list[JournalEntry]) -> None:
        """Run the ``on_arrival`` hook once for the files that landed (at least once per file: a
        file whose remote delete failed is announced again when a later drain finishes it)."""
        cfg = self.session.cfg
        arrivals = [
            Arrival(
                workspace_relative(cfg, self.inbox / e.target), e.size, outbox_path(cfg, e.remote)
            )
            for e in sorted(landed, key=lambda e: e.target)
        ]
        await run_arrival_hook(cfg, "inbox", arrivals)

    async def _mkdir_outbox(self) -> None:
        result = await self.session.rc.run(["mkdir", self.step.src], per_file=False)
        if not result.ok:
            raise SyncFailed(f"cannot create {self.step.src}: {result.message()}")

    async def _copy(self, pending: list[JournalEntry]) -> str:
        """Copy the pending files into the staging folder; returns an error text or ``""``."""
        self.staging.mkdir(parents=True, exist_ok=True)
        for partial in self.staging.rglob("*.partial"):
            partial.unlink(missing_ok=True)
        result = await self.session.rc.run(
            ["copy", self.step.src, str(self.staging), "--no-traverse", *self.session.link_args()],
            files_from=[e.remote for e in pending],
        )
        return result.message()

    def _clean_staging(self, landed: list[JournalEntry]) -> None:
        for entry in landed:
            (self.staging / entry.remote).unlink(missing_ok=True)
        if self.staging.is_dir() and not any(p.is_file() for p in self.staging.rglob("*")):
            shutil.rmtree(self.staging, ignore_errors=True)

    async def _delete_remote(self, landed: list[JournalEntry]) -> int:
        """Delete the landed files remotely, only those still at their journalled version."""
        if not landed:
            return 0
        rc = self.session.rc
        current = {e.path: e for e in (await list_files(rc, self.step.src, self.filters) or [])}
        doomed = [e.remote for e in landed if e.remote in current and e.matches(current[e.remote])]
        if not doomed:
            return 0
        result = await rc.run(["delete", self.step.src], files_from=doomed)
        if not result.ok:
            raise SyncFailed(
                f"drain: files landed in _inbox but could not be removed from {self.step.src}: "
                f"{result.message()} (they will not be copied twice)"
            )
        if any("/" in path for path in doomed):
            await rc.run(["rmdirs", self.step.src, "--leave-root"], per_file=False)
        return len(result.deleted)
