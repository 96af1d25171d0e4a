"""Before a bisync ``--resync``: list both sides and keep every version the resync would
overwrite as ``<name>.conflictN`` (the decisions are :mod:`watcher.plan.resync`'s)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from loguru import logger

from watcher.engine.oneway import list_both
from watcher.engine.session import Session
from watcher.errors import SyncFailed
from watcher.plan import Step, remote_join
from watcher.plan.resync import KeepCopy, Version, differs, effective_resolve, plan_keep_copies
from watcher.rclone import Entry
from watcher.rclone.encoding import reachable
from watcher.rclone.ops import copy_file, hash_types, identical_files

#: Hashes preferred for comparing the sides (cheap and offered by most backends).
PREFERRED_HASHES = ("md5", "sha1")


@dataclass(frozen=True)
class ResyncPrep:
    """What was found before a resync: the losing versions kept (or, in a dry run, that would
    be), the sides that do not exist yet, and how many files each side holds."""

    copies: tuple[KeepCopy, ...]
    missing: tuple[str, ...]
    local_files: int
    remote_files: int

    def note(self, *, dry_run: bool) -> str:
        """The summary's addition, e.g. ``; kept 1 losing version as NAME.conflictN``."""
        if not self.copies:
            return ""
        verb = "would keep" if dry_run else "kept"
        names = ", ".join(c.describe() for c in self.copies[:3])
        more = f" and {len(self.copies) - 3} more" if len(self.copies) > 3 else ""
        return f"; {verb} {len(self.copies)} losing versions: {names}{more}"


async def common_hash(session: Session, step: Step) -> str | None:
    """A hash type both sides support (md5 or sha1 first), or ``None``."""
    local = set(await hash_types(session.rc, step.src))
    remote = await hash_types(session.rc, step.dst)
    shared = [h for h in remote if h in local]
    return next((h for h in PREFERRED_HASHES if h in shared), shared[0] if shared else None)


def _versions(entries: Iterable[Entry]) -> dict[str, Version]:
    return {e.path: Version(e.size, e.mtime, e.hash) for e in entries}


def _refuse_unreadable(local: dict[str, Version], remote: dict[str, Version]) -> None:
    """A name that is not valid UTF-8 (rclone shows U+FFFD) cannot be copied by name, yet the
    resync overwrites it (measured): when it differs between the sides, refuse."""
    stuck = [
        p
        for p in sorted(set(local) & set(remote))
        if not reachable(p) and differs(local[p], remote[p])
    ]
    if stuck:
        raise SyncFailed(
            f"resync not run: {stuck[0]!r} (and {len(stuck) - 1} more) differs between the "
            "sides and its name is not valid UTF-8, so no copy of the losing version can be "
            "kept; rename it on one side to a valid UTF-8 name, then run the resync again"
        )


async def _same_bytes(
    session: Session, step: Step, local: list[Entry] | None, remote: list[Entry] | None
) -> set[str]:
    """The paths on both sides with the same size whose bytes are equal (read from both)."""
    sizes = {e.path: e.size for e in remote or []}
    sized = [e.path for e in local or [] if sizes.get(e.path) == e.size]
    return await identical_files(session.rc, step.src, step.dst, sized)


async def prepare_resync(session: Session, step: Step, *, dry_run: bool) -> ResyncPrep:
    """List both sides (with a shared hash where there is one) and copy every version the
    resync will overwrite to a free ``<name>.conflictN`` on its own side; in a dry run only
    log what would be kept. Raises :class:`SyncFailed` (nothing resynced) when a copy fails."""
    rc = session.rc
    filters = [*step.filter.rclone_args(), *session.link_args()]
    hashed = await common_hash(session, step)
    local, remote = await list_both(rc, step.src, step.dst, filters, hash_type=hashed)
    local_versions, remote_versions = _versions(local or []), _versions(remote or [])
    _refuse_unreadable(local_versions, remote_versions)
    features = await session.features()
    modtime = features is None or features.modtime
    resolve = effective_resolve(session.cfg.conflict_resolve, remote_modtime=modtime)
    # without modtimes or a common hash (wsgidav), only the bytes can tell two same-size
    # files apart: the remote's mtimes are upload times, never equal to the local ones
    same = set() if modtime or hashed else await _same_bytes(session, step, local, remote)
    copies = plan_keep_copies(resolve, local_versions, remote_versions, same)
    for copy in copies:
        root = step.src if copy.side == "local" else step.dst
        if dry_run:
            logger.info("resync would keep the losing version {}", copy.describe())
            continue
        if not await copy_file(rc, remote_join(root, copy.path), remote_join(root, copy.copy)):
            raise SyncFailed(
                f"resync not run: could not keep {copy.describe()} because {copy.copy} "
                "appeared meanwhile; run the resync again"
            )
        logger.info("resync: kept the losing version {}", copy.describe())
    missing = tuple(
        root for root, files in ((step.src, local), (step.dst, remote)) if files is None
    )
    return ResyncPrep(copies, missing, len(local or []), len(remote or []))
