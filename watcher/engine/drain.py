"""Mailbox drain: move files from the remote ``_outbox`` into the local ``_inbox``.

Order of operations, so that a crash at any point neither loses nor duplicates a file, and a
file replaced or still being written in the outbox is never lost:

1. list the remote outbox; files that are still being written (not settled, see
   :mod:`watcher.engine.readiness`) wait for a later drain;
2. give every settled file a free local name (``a (1).txt`` beside an existing ``a.txt``) and
   write the journal (outbox path, claim path, size, mtime -> name);
3. **claim** the files: one server-side ``rclone move`` (a rename per file on a local remote,
   see :mod:`watcher.engine.outbox`) into a folder of this run,
   ``_outbox/.workspace-sync-claim/<run>/``. A sender that replaces ``_outbox/a.txt`` from now
   on creates a new file beside the claim, which the next drain takes; the journal is updated
   with what the claim folder really holds;
4. copy the claimed files into a staging folder inside ``_inbox`` with one rclone call;
5. link each staged file to its name (never replacing a file, never following a symlink: see
   :mod:`watcher.engine.place`), each file on its own: one that cannot be placed is named with
   its reason and stays claimed, the others land; fsync what landed and its folders (rclone
   does not fsync), then record it as landed;
6. delete from the claim folder exactly the files that landed, and only while they are still
   the version that landed;
7. forget the finished journal entries.

A rerun reads the journal first: landed files are not copied again, and claimed ones keep the
name they were given (a new free name if the agent wrote a file under it meanwhile; a file in
``_inbox`` counts as placed by a crashed run only with the journalled size *and* mtime). Files
left in a claim folder (by a crash or a failure) are taken by the next drain without the settle
wait, but never while a process has them open for writing. A symlinked ``_inbox`` is refused
before anything is claimed; a sender's ``.workspace-sync-incoming/`` folder lands beside the
staging folder, never in it; an object-store name with a part over 255 bytes is claimed under
a shortened path.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from pathlib import Path

import anyio
from loguru import logger

from watcher.engine.arrival import Arrival, outbox_path, run_arrival_hook, workspace_relative
from watcher.engine.drainfs import Staging, make_durable
from watcher.engine.drainrecords import (
    STAGING,
    Failure,
    Outcome,
    local_failure,
    placed_before,
    rename_taken,
    unclaimable,
    unstaged,
    wanted_name,
)
from watcher.engine.journal import Journal, JournalEntry, KnownVersions, merge_journals
from watcher.engine.names import FreeNames, folder_lister, short_paths
from watcher.engine.outbox import Outbox, claimed_rel, is_claimed
from watcher.engine.place import PlaceError, place
from watcher.engine.readiness import Readiness, Settler, uploads_atomic
from watcher.engine.session import Session
from watcher.engine.settle import WRITER_RECHECK, open_for_writing
from watcher.engine.state import RunRecord
from watcher.errors import SyncFailed
from watcher.plan import CLAIMS, OUTBOX, Step, local_remote_dir
from watcher.rclone import Entry
from watcher.rclone.encoding import QUOTE, local_name, reachable

__all__ = ["STAGING", "Drain", "JournalEntry", "merge_journals"]


class Drain:
    """One drain of ``step.src`` (remote ``_outbox``) into ``step.dst`` (local ``_inbox``)."""

    def __init__(self, session: Session, step: Step) -> None:
        self.session = session
        self.step = step
        self.inbox = Path(step.dst)
        self.staging = Staging(self.inbox / STAGING)
        self.journal_path = session.paths.drain_journal
        self.journal = Journal(self.journal_path, session.paths.legacy_drain_journal)
        self.filters = step.filter.rclone_args() + session.link_args()
        cfg = session.cfg
        remote_dir = local_remote_dir(cfg)
        self.local_outbox = remote_dir / OUTBOX if remote_dir is not None else None
        self.outbox = Outbox(session, step.src, self.filters, self.local_outbox)
        self.settler = Settler(
            cfg.outbox_settle,
            self.journal_path.with_name("outbox-sightings.json"),
            atomic=uploads_atomic(cfg),
            local_root=self.local_outbox,
            writers=open_for_writing,
        )

    def load_journal(self) -> list[JournalEntry]:
        """The journal of unfinished inbound files (see :class:`Journal`)."""
        return self.journal.load()

    def save_journal(self, entries: list[JournalEntry]) -> None:
        """Write the journal atomically."""
        self.journal.save(entries)

    async def run(self, *, dry_run: bool = False, settle_wait: bool = True) -> RunRecord:
        """Drain the outbox; returns the record (``ok`` False when a file could not be
        delivered). ``settle_wait`` waits once, within the run, for files that settle within
        ``outbox_settle`` (one-shot ``sync``; the daemon comes back instead). Raises
        :class:`SyncFailed` when listing or claiming fails."""
        started = time.time()
        listing = await self.outbox.listing(create=not dry_run)
        if dry_run:
            return self._dry_run(listing, started)
        try:
            outcome = await self._drain(listing, settle_wait)
        except OSError as exc:  # the inbox cannot be written at all: nothing was deleted
            raise SyncFailed(local_failure(exc)) from exc
        await self._announce(outcome.landed)
        for failure in outcome.failures:
            logger.warning("inbound {} not delivered: {}", failure.remote, failure.reason)
        return outcome.record(started)

    def _dry_run(self, listing: list[Entry], started: float) -> RunRecord:
        """What a one-shot drain would take (it waits for recent files to settle), not the
        files a process still has open for writing (named as such). Records nothing."""
        busy = self.settler.busy(listing)
        waiting = {e.path for e in busy}
        taken = [e for e in listing if e.path not in waiting]
        for item in taken:
            logger.info(
                "would drain {}", claimed_rel(item.path) if is_claimed(item.path) else item.path
            )
        for item in busy:
            logger.info("would wait for {} (still being written)", item.path)
        message = f"would drain {len(taken)} files"
        if waiting:
            message += f"; {len(waiting)} still being written"
        return RunRecord(
            "drain",
            True,
            message,
            started,
            time.time() - started,
            transferred=len(taken),
            dry_run=True,
        )

    async def _settled(
        self, listing: list[Entry], settle_wait: bool, known: KnownVersions
    ) -> tuple[list[Entry], Readiness]:
        """The listing and the split of its new files (not claimed, not in the journal) into
        settled and waiting ones, waiting once within the run when asked to and the wait is
        short."""

        listing, readiness = self._split(listing, known)
        limit = self.session.cfg.outbox_settle + 0.5
        if settle_wait and readiness.waiting and readiness.all_by <= limit:
            await anyio.sleep(readiness.all_by)
            listing, readiness = self._split(await self.outbox.listing(), known)
        return listing, readiness

    def _split(self, listing: list[Entry], known: KnownVersions) -> tuple[list[Entry], Readiness]:
        """The settle rule on the new files; claimed files skip the wait (they were settled
        when claimed) but not the open-for-writing check (a sender may write into a claim
        folder), and those still open are left out of the listing for now."""
        fresh = [
            e for e in listing if not is_claimed(e.path) and (e.path, e.size, e.mtime) not in known
        ]
        readiness = self.settler.split(fresh, time.time())
        busy = self.settler.busy(e for e in listing if is_claimed(e.path))
        for entry in busy:
            readiness.wait(entry, WRITER_RECHECK)
        held = {e.path for e in busy}
        return [e for e in listing if e.path not in held], readiness

    async def _drain(self, listing: list[Entry], settle_wait: bool) -> Outcome:
        """Steps 1-7 of the module docstring."""
        self.inbox.mkdir(parents=True, exist_ok=True)
        if self.inbox.is_symlink():
            raise SyncFailed(
                f"drain: {self.inbox} is a symlink; the drain never follows links under the "
                "sync root: replace it with a folder (the files stay in the remote outbox)"
            )
        self.staging.prepare()
        outcome = Outcome()
        journal = self.load_journal()
        known = KnownVersions(e for e in journal if e.landed or e.claim)
        listing, outcome.readiness = await self._settled(listing, settle_wait, known)
        names = FreeNames(folder_lister(self.inbox), {STAGING})
        entries = self._plan(journal, listing, names)
        new = self._assign(outcome.readiness.ready, names)
        if new:
            self.save_journal(entries + new)
            await self.outbox.claim(new)
            now = await self.outbox.versions([p for e in new for p in (e.claim, e.remote)])
            entries += self._reconcile(new, list(now.values()), outcome)
            listing = [e for e in listing if e.path not in now] + list(now.values())
        self.save_journal(entries)
        if rename_taken(self.inbox, entries, names):
            self.save_journal(entries)
        await self._land(entries, listing, outcome)
        outcome.landed = [e for e in entries if e.landed]
        self.save_journal(entries)  # landed files are never copied again, even if delete fails
        outcome.deleted = await self.outbox.delete_landed(outcome.landed)
        remaining = [e for e in entries if not e.landed]
        self.save_journal(remaining)
        self.staging.clean({local_name(e.claim) for e in remaining if e.claim})
        for entry in outcome.landed:
            note = "" if entry.target == local_name(entry.remote) else f" (as {entry.target})"
            logger.info("inbound {} -> _inbox/{}{}", entry.remote, entry.target, note)
        return outcome

    def _plan(
        self, journal: list[JournalEntry], listing: list[Entry], names: FreeNames
    ) -> list[JournalEntry]:
        """The journal brought in line with the outbox: entries whose file is still there
        (same version) or that landed are kept; a claimed file the journal does not know
        (or that changed since) gets an entry of its own."""
        remote = {e.path: e for e in listing}
        kept: list[JournalEntry] = []
        for entry in journal:
            current = remote.get(entry.where)
            if entry.landed or (current is not None and entry.matches(current) and entry.claim):
                kept.append(entry)
        for entry in kept:
            names.taken.add(entry.target.casefold())
        known = KnownVersions(kept)
        for item in listing:
            if is_claimed(item.path) and (item.path, item.size, item.mtime) not in known:
                rel = claimed_rel(item.path)
                target = names.claim(wanted_name(rel))
                kept.append(JournalEntry(rel, item.size, item.mtime, target, claim=item.path))
        return kept

    def _assign(self, ready: list[Entry], names: FreeNames) -> list[JournalEntry]:
        """Journal entries (name, claim path) for the settled files to claim now; names that
        rclone cannot reach are left out here and reported by :meth:`_reconcile`."""
        run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
        short = short_paths([e.path for e in ready])  # claimed under names staging can hold
        return [
            JournalEntry(
                e.path,
                e.size,
                e.mtime,
                names.claim(wanted_name(e.path)),
                claim=f"{CLAIMS}/{run}/{short.get(e.path, e.path)}",
            )
            for e in ready
        ]

    def _reconcile(
        self, new: list[JournalEntry], listing: list[Entry], outcome: Outcome
    ) -> list[JournalEntry]:
        """The new entries whose file is now in the claim folder, with the size and mtime of
        what was claimed (a sender may have replaced it just before). A file that could not
        be claimed is a named failure; one that vanished is dropped."""
        remote = {e.path: e for e in listing}
        claimed: list[JournalEntry] = []
        for entry in new:
            got = remote.get(entry.claim)
            if got is not None:
                entry.size, entry.mtime = got.size, got.mtime
                claimed.append(entry)
            elif entry.remote in remote or not reachable(entry.remote) or QUOTE in entry.remote:
                # still there, or a name this tool cannot look up by itself (so not "gone")
                outcome.failures.append(Failure(entry.remote, unclaimable(entry.remote)))
        return claimed

    async def _land(
        self, entries: list[JournalEntry], listing: list[Entry], outcome: Outcome
    ) -> None:
        """Copy the claimed files that have not landed into staging and place each one."""
        present = {e.path for e in listing}
        pending = [e for e in entries if not e.landed and e.claim in present]
        for entry in [e for e in entries if not e.landed and placed_before(self.inbox, e)]:
            entry.landed = True  # placed by a run that died before journalling it
        pending = [e for e in pending if not e.landed]
        if pending:
            result = await self.session.rc.run(
                [
                    "copy",
                    self.step.src,
                    str(self.staging.root),
                    "--no-traverse",
                    *self.session.link_args(),
                ],
                files_from=[e.claim for e in pending],
            )
            outcome.copy_error = result.message()
        fresh = self._place_staged(pending, outcome)
        await anyio.to_thread.run_sync(make_durable, self.inbox, [e.target for e in fresh])
        for entry in fresh:
            entry.landed = True

    def _place_staged(self, pending: list[JournalEntry], outcome: Outcome) -> list[JournalEntry]:
        """Place each staged copy; a file that cannot be placed, or whose copy rclone wrote
        under a name other than the one predicted (rclone's names are ambiguous for some
        names holding U+201B), is a named failure and stays claimed."""
        fresh = []
        for entry in pending:
            staged = self.staging.root / local_name(entry.claim)
            if _regular_size(staged) != entry.size:
                if not outcome.copy_error:
                    outcome.failures.append(Failure(entry.remote, unstaged(entry)))
                continue
            try:
                place(staged, self.inbox, entry.target)
            except PlaceError as exc:
                outcome.failures.append(
                    Failure(entry.remote, f"{exc.reason}; kept in the outbox as {entry.claim}")
                )
                continue
            except OSError as exc:
                outcome.failures.append(
                    Failure(
                        entry.remote, f"{exc.strerror or exc}; kept in the outbox as {entry.claim}"
                    )
                )
                continue
            fresh.append(entry)
        return fresh

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


def _regular_size(path: Path) -> int | None:
    """Size of ``path`` when it is a regular file (a symlink is never followed), else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None
