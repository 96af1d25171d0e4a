"""The mailbox drain's records: the outcome of one drain, its failures, and the rules it
applies to the journal after a crash (what counts as placed, names taken meanwhile)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from watcher.engine.journal import JournalEntry
from watcher.engine.names import FreeNames, outside_folder
from watcher.engine.place import in_use, landed_stat
from watcher.engine.readiness import Readiness
from watcher.engine.state import RunRecord
from watcher.rclone.encoding import QUOTE, local_name, reachable

#: The drain's staging folder inside ``_inbox``.
STAGING = ".workspace-sync-incoming"
#: Failures named in the run's one-line message (all of them are logged).
NAMED_FAILURES = 3


@dataclass
class Failure:
    """An inbound file that could not be placed, and why."""

    remote: str
    reason: str


@dataclass
class Outcome:
    """What one drain did."""

    landed: list[JournalEntry] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    deleted: int = 0
    copy_error: str = ""
    readiness: Readiness = field(default_factory=Readiness)

    def record(self, started: float) -> RunRecord:
        """The run record of this drain (failed when a file failed or the copy did)."""
        message = f"drained {len(self.landed)} files"
        waiting = len(self.readiness.waiting)
        if waiting:
            message += f"; {waiting} still being written (left in the outbox for a later drain)"
        if self.failures:
            named = "; ".join(f"{f.remote}: {f.reason}" for f in self.failures[:NAMED_FAILURES])
            more = len(self.failures) - NAMED_FAILURES
            message += f"; {len(self.failures)} could not be delivered ({named}"
            message += f"; and {more} more)" if more > 0 else ")"
        if self.copy_error:
            message += f"; copy failed: {self.copy_error}"
        return RunRecord(
            "drain",
            not self.failures and not self.copy_error,
            message,
            started,
            time.time() - started,
            transferred=len(self.landed),
            deleted=self.deleted,
            errors=len(self.failures),
            unsettled=waiting,
            recheck=self.readiness.recheck,
        )


def local_failure(exc: OSError) -> str:
    """One line for a failed local file operation of the drain."""
    where = f"{exc.filename}: " if exc.filename else ""
    reason = f"{where}{exc.strerror or exc}"
    return f"drain failed: {reason}; files that have not landed stay in the remote outbox"


def unstaged(entry: JournalEntry) -> str:
    """Why a claimed file that rclone copied without an error is not in staging."""
    return (
        "rclone copied it under a name this tool cannot predict (rclone lists some names "
        f"holding U+201B '\u201b' ambiguously); rename it; kept in the outbox as {entry.claim}"
    )


def wanted_name(remote: str) -> str:
    """The name in ``_inbox`` an inbound file asks for: its local name, moved out of the
    drain's staging folder (a sender's ``.workspace-sync-incoming/x.txt``)."""
    return outside_folder(local_name(remote), STAGING)


def placed_before(inbox: Path, entry: JournalEntry) -> bool:
    """True when ``inbox/<target>`` is this entry's file, placed by a run that died before
    journalling it: same size and the mtime rclone gave it (a file the agent wrote there
    meanwhile, even of the same size, is not taken for it)."""
    found = landed_stat(inbox, entry.target)
    return found is not None and found[0] == entry.size and abs(found[1] - entry.mtime) < 1e-3


def rename_taken(inbox: Path, entries: list[JournalEntry], names: FreeNames) -> bool:
    """Entries not landed whose name in ``inbox`` was taken meanwhile (the agent wrote a file
    of that name after a crashed run had picked it) get a new free name; True if any."""
    renamed = False
    for entry in entries:
        if entry.landed or placed_before(inbox, entry) or not in_use(inbox, entry.target):
            continue
        old, entry.target = entry.target, names.claim(wanted_name(entry.remote))
        logger.info(
            "inbound {}: _inbox/{} was taken meanwhile; delivering it as {}",
            entry.remote,
            old,
            entry.target,
        )
        renamed = True
    return renamed


def unclaimable(remote: str) -> str:
    """Why a settled file could not be claimed (it stays in the outbox)."""
    if not reachable(remote):
        return (
            "its name is not valid UTF-8 and rclone cannot open it by name; rename it in "
            "the outbox (it stays there)"
        )
    if QUOTE in remote:
        return (
            "rclone cannot open it by the name it lists (names holding U+201B are listed "
            "ambiguously); rename it in the outbox (it stays there)"
        )
    return "could not be moved into the claim folder (see the log); it stays in the outbox"
