"""A push to a remote root that does not exist yet.

rclone creates a missing destination itself on most backends, but not on every FTP server:
against pyftpdlib, whose ``501`` for a missing folder rclone does not read as "not found",
``rclone sync`` (and its ``--dry-run``) fails with "error reading destination root directory".
So a push whose guard listing found no remote root creates it first (``rclone mkdir``, parents
included) and lists it again, and a dry run says what it would create and copy instead of
running rclone.

Only pushes do this: a pull from a missing remote root is refused by the empty-source guard
(:mod:`watcher.engine.guard`) and nothing is created.
"""

from __future__ import annotations

import time

from loguru import logger

from watcher.engine.session import Session
from watcher.engine.state import RunRecord
from watcher.errors import SyncFailed
from watcher.plan import Step
from watcher.rclone import Entry, list_files


async def create_remote_root(session: Session, root: str) -> None:
    """``rclone mkdir ROOT`` (parents included; a no-op for an existing folder), checked by a
    listing of its top level; raises :class:`SyncFailed` naming ``root`` when it cannot be
    created."""
    await _mkdir(session, root)
    if await list_files(session.rc, root, ["--max-depth", "1"]) is None:
        raise SyncFailed(_NOT_CREATED.format(root=root))
    logger.info("created {}", root)


async def create_and_list(session: Session, root: str, filters: list[str]) -> list[Entry]:
    """``rclone mkdir ROOT``, then what ``root`` holds (after ``filters``): nothing, for
    a folder that was really missing; a listing that called a full folder missing is caught
    here, before a push could skip the delete guard. Raises :class:`SyncFailed` when it
    cannot be created or listed."""
    await _mkdir(session, root)
    listing = await list_files(session.rc, root, filters)
    if listing is None:
        raise SyncFailed(_NOT_CREATED.format(root=root) + "; nothing was pushed")
    logger.info("created {}", root)
    return listing


#: A folder that ``rclone mkdir`` "created" (exit 0) but the server still calls missing:
#: rclone's FTP backend takes a ``550`` answer to ``MKD`` for "exists already", and ``550`` is
#: also what pyftpdlib and other servers answer a user without the permission to create it.
_NOT_CREATED = (
    "cannot create {root}: rclone mkdir reported success but the server still says it does "
    "not exist (may this user create folders there? check its permissions, or create it "
    "on the server)"
)


async def _mkdir(session: Session, root: str) -> None:
    """``rclone mkdir ROOT``; raises :class:`SyncFailed` naming ``root`` when it fails."""
    result = await session.rc.run(["mkdir", root], per_file=False)
    if not result.ok:
        raise SyncFailed(f"cannot create {root}: {result.message()}")


def dry_push_to_missing(step: Step, src: list[Entry], started: float) -> RunRecord:
    """The dry run of a push to a remote root that does not exist: every source file would be
    copied there (logged one per line, as rclone's dry runs are), nothing deleted."""
    logger.info("would create {}", step.dst)
    for entry in src:
        logger.info("would copy {}", entry.path)
    return RunRecord(
        step.kind,
        True,
        f"would create {step.dst}, would copy {len(src)}, delete 0",
        started,
        time.time() - started,
        transferred=len(src),
        dry_run=True,
    )
