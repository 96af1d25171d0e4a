"""The remote side of the mailbox drain: listing the ``_outbox``, claiming files into a claim
folder of the run, reading back what was claimed, and deleting exactly what landed.

On a provider-``local`` remote the outbox is a folder on this machine: what a file holds now is
read with ``stat`` (no rclone run), and a name that is not valid UTF-8 (which rclone cannot
open by name) is claimed with a rename.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from loguru import logger

from watcher.engine.drainfs import claim_unreachable
from watcher.engine.journal import JournalEntry
from watcher.engine.session import Session
from watcher.errors import SyncFailed
from watcher.plan import CLAIMS
from watcher.rclone import Entry, RcloneResult, list_files
from watcher.rclone.encoding import local_name, reachable


def is_claimed(path: str) -> bool:
    """True for paths inside the drain's claim folders."""
    return path.startswith(CLAIMS + "/")


def claimed_rel(path: str) -> str:
    """``.workspace-sync-claim/<run>/a/b.txt`` -> ``a/b.txt``."""
    return path.split("/", 2)[2] if path.count("/") >= 2 else path


def claim_folder(path: str) -> str:
    """``.workspace-sync-claim/<run>/a/b.txt`` -> ``.workspace-sync-claim/<run>``."""
    return "/".join(path.split("/", 2)[:2])


class Outbox:
    """The remote ``_outbox`` (``src``, an rclone path) of one drain."""

    def __init__(self, session: Session, src: str, filters: list[str], local: Path | None):
        self.session = session
        self.src = src.rstrip("/")
        self.filters = filters
        self.local = local

    async def listing(self, *, create: bool = False) -> list[Entry]:
        """Every file in the outbox, claim folders included (created when missing and
        ``create``)."""
        listing = await list_files(self.session.rc, self.src, self.filters)
        if listing is None:
            if create:
                result = await self.session.rc.run(["mkdir", self.src], per_file=False)
                if not result.ok:
                    raise SyncFailed(f"cannot create {self.src}: {result.message()}")
            return []
        return listing

    async def claim(self, new: list[JournalEntry]) -> None:
        """Move the files of ``new`` into their claim folder (one for the run; server-side
        where the backend can). A failure is logged; what was claimed is read back."""
        if self.local is not None:  # a folder on this machine: a rename per file
            for entry in new:
                if not reachable(entry.remote):  # a name rclone cannot open
                    claim_unreachable(self.local, entry.remote, entry.claim)
                else:
                    _rename_regular(self.local, entry.remote, entry.claim)
            return
        run_dir = claim_folder(new[0].claim)
        movable = [
            e.remote for e in new if reachable(e.remote) and e.claim == f"{run_dir}/{e.remote}"
        ]
        for entry in new:  # names too long for a local disk: claimed under a short name
            if reachable(entry.remote) and entry.claim != f"{run_dir}/{entry.remote}":
                result = await self.session.rc.run(
                    ["moveto", f"{self.src}/{entry.remote}", f"{self.src}/{entry.claim}"],
                    per_file=False,
                )
                if not result.ok:
                    logger.warning("claiming inbound {}: {}", entry.remote, result.message())
        if not movable:
            return
        result = await self.session.rc.run(
            ["move", self.src, f"{self.src}/{run_dir}", "--no-traverse", *self.session.link_args()],
            files_from=movable,
        )
        if not result.ok:
            logger.warning("claiming inbound files: {}", result.message())

    async def versions(self, paths: list[str]) -> dict[str, Entry]:
        """What the files at ``paths`` hold now (those that exist): by ``stat`` on a local
        remote, else from one listing."""
        if self.local is None:
            wanted = set(paths)
            return {e.path: e for e in await self.listing() if e.path in wanted}
        found: dict[str, Entry] = {}
        for path in paths:
            try:
                st = os.lstat(self.local / local_name(path))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found[path] = Entry(path, st.st_size, st.st_mtime_ns / 1e9)
        return found

    async def delete_landed(self, landed: list[JournalEntry]) -> int:
        """Delete the landed files, only those still at their journalled version (a claimed
        file is private to the drain; an entry of an older version's journal names the outbox
        file itself). A claim folder whose files all landed goes in one ``purge``."""
        if not landed:
            return 0
        current = await self.versions([e.where for e in landed])
        doomed = [e.where for e in landed if e.where in current and e.matches(current[e.where])]
        whole = self._whole_folders(doomed)
        rest = [p for p in doomed if claim_folder(p) not in whole]
        if self.local is not None:
            return _remove_local(self.local, whole, rest)
        rc, deleted = self.session.rc, len(doomed) - len(rest)
        for folder in sorted(whole):
            _check_delete(await rc.run(["purge", f"{self.src}/{folder}"], per_file=False), self.src)
        if rest:
            result = await rc.run(["delete", self.src], files_from=rest)
            _check_delete(result, self.src)
            deleted += len(result.deleted)
            if any(is_claimed(path) for path in rest):  # emptied claim folders only: a
                # sender's own folders stay, it may be about to upload into one
                await rc.run(["rmdirs", f"{self.src}/{CLAIMS}", "--leave-root"], per_file=False)
        return deleted

    def _whole_folders(self, doomed: list[str]) -> set[str]:
        """Claim folders (on a local remote) that hold nothing but files of ``doomed``."""
        if self.local is None:
            return set()
        local_doomed = {local_name(p) for p in doomed}
        whole = set()
        for folder in {claim_folder(p) for p in doomed if is_claimed(p)}:
            root = self.local / local_name(folder)
            prefix = local_name(folder)
            files = {f"{prefix}/{p.relative_to(root).as_posix()}" for p in root.rglob("*")}
            if all(f in local_doomed or (root / f[len(prefix) + 1 :]).is_dir() for f in files):
                whole.add(folder)
        return whole


def _rename_regular(root: Path, rel: str, claim: str) -> None:
    """Claim ``root/rel`` by renaming it to ``root/claim`` (a new folder of this run, so
    nothing is replaced), if it is still a regular file."""
    src, dst = root / local_name(rel), root / local_name(claim)
    try:
        if not stat.S_ISREG(os.lstat(src).st_mode):
            return
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.rename(dst)
    except FileNotFoundError:
        return  # taken away meanwhile
    except OSError as exc:
        logger.warning("claiming inbound {}: {}", rel, exc.strerror or exc)


def _remove_local(root: Path, whole: set[str], rest: list[str]) -> int:
    """Remove claimed files that landed from a local remote: whole claim folders, then single
    files (and the claim folders they leave empty). Returns the number of files removed."""
    removed = 0
    try:
        for folder in sorted(whole):
            path = root / local_name(folder)
            removed += sum(1 for p in path.rglob("*") if not p.is_dir())
            shutil.rmtree(path)
        for rel in rest:
            (root / local_name(rel)).unlink(missing_ok=True)
            removed += 1
        for folder in sorted({claim_folder(p) for p in rest if is_claimed(p)}):
            with contextlib.suppress(OSError):  # not empty: files still wait there
                _remove_empty(root / local_name(folder))
    except OSError as exc:
        raise SyncFailed(
            f"drain: files landed in _inbox but could not be removed from {root}: "
            f"{exc.strerror or exc} (they will not be copied twice)"
        ) from exc
    return removed


def _remove_empty(folder: Path) -> None:
    """Remove ``folder`` and its subfolders when they hold no file."""
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        sub.rmdir()
    folder.rmdir()


def _check_delete(result: RcloneResult, src: str) -> None:
    if not result.ok:
        raise SyncFailed(
            f"drain: files landed in _inbox but could not be removed from {src}: "
            f"{result.message()} (they will not be copied twice)"
        )
