"""One bisync at a time per remote root, across machines (finding 16-7).

rclone bisync decides from a listing of both sides and copies afterwards; its lock lives in
each machine's own workdir. Two machines whose runs overlap both find the remote unchanged
and both upload: the later upload replaces the earlier one without a conflict, and that
version is found nowhere (measured: a 2 MiB upload under ``--bwlimit`` and another machine's
run meanwhile, local folder and ``rclone serve s3``). The remote itself holds the lease: an
empty object ``<remote root>/.workspace-sync-lease/<expires>-<machine>-<nonce>`` (bisync
excludes the folder). A run writes its claim, then lists the folder: another machine's live
claim means both may have written at once, so it withdraws its own, waits and tries again.
Of two claims written concurrently, the one listed later sees the other (a write is visible
to every listing after it: S3, local, SFTP, WebDAV), so two runs never both proceed.

A claim expires ``timeout`` + :data:`GRACE` seconds after it was written (the cycle deadline
bounds a run), by the writer's clock. Claims of this machine (the pair's id, stored in its
state folder) other than the current one are left by a killed run (the run lock allows one
run per pair) and removed at once, like expired claims of any machine.

On a remote that is a folder on this machine (provider ``local``) the lease's objects are
written, listed and removed directly (the same files rclone would write there), without four
rclone processes per run; every other remote goes through rclone.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
from loguru import logger

from watcher.engine.session import Session
from watcher.errors import SyncFailed
from watcher.plan import Step
from watcher.plan.cycle import LEASE_DIR, local_remote_dir, remote_join

#: Seconds a claim outlives the run's own timeout.
GRACE = 120
#: Seconds a run waits for another machine's bisync before it fails (and is retried).
WAIT = 120.0
#: Seconds between two looks at the other machine's claim (plus up to as much jitter).
POLL = 0.5
ID_FILE = "bisync-lease-id"
#: Backends without real folders: no empty lease folder to remove after a run.
BUCKET_KINDS = frozenset({"s3"})


@dataclass(frozen=True)
class Claim:
    """One lease object's name: ``<expires>-<machine>-<nonce>``."""

    expires: int
    machine: str
    nonce: str

    @property
    def name(self) -> str:
        """The object's name in the lease folder."""
        return f"{self.expires}-{self.machine}-{self.nonce}"

    @classmethod
    def parse(cls, name: str) -> Claim | None:
        """The claim a name stands for; ``None`` for anything else."""
        parts = name.split("-")
        if len(parts) != 3 or not parts[0].isdigit() or not all(parts[1:]):
            return None
        return cls(int(parts[0]), parts[1], parts[2])


def machine_id(state: Path) -> str:
    """This pair's lease id (12 hex digits), created once in its state folder ``state``."""
    path = state / ID_FILE
    try:
        found = path.read_text(encoding="ascii").strip()
        if len(found) == 12 and all(c in "0123456789abcdef" for c in found):
            return found
    except (OSError, UnicodeDecodeError):
        pass
    value = secrets.token_hex(6)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n", encoding="ascii")
    return value


def others(names: list[str], mine: Claim, now: float) -> tuple[list[Claim], list[str]]:
    """``(live claims of other machines, names to remove)`` of a listing of the lease folder:
    expired claims and this machine's earlier ones are removed; other names are left alone."""
    live, stale = [], []
    for name in names:
        claim = Claim.parse(name)
        if claim is None or claim == mine:
            continue
        if claim.expires < now or claim.machine == mine.machine:
            stale.append(name)
        else:
            live.append(claim)
    return live, stale


class Lease:
    """The remote's bisync lease for one run (``async with Lease(session, step):``)."""

    def __init__(self, session: Session, step: Step) -> None:
        self.session = session
        self.folder = remote_join(step.dst, LEASE_DIR)
        local = local_remote_dir(session.cfg)
        #: The lease folder on this machine's disk (provider ``local``), else ``None``.
        self.local = local / LEASE_DIR if local is not None else None
        self.machine = machine_id(session.paths.pair_root)
        self.claim: Claim | None = None

    async def __aenter__(self) -> Lease:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        with anyio.CancelScope(shield=True):
            await self.release()

    async def acquire(self) -> None:
        """Write a claim and keep it when no other machine's live claim is listed; otherwise
        withdraw it and retry until :data:`WAIT` passes, then raise :class:`SyncFailed`."""
        deadline = time.monotonic() + WAIT
        waited = False
        while True:
            expires = int(time.time()) + self.session.cfg.timeout + GRACE
            claim = Claim(expires, self.machine, secrets.token_hex(4))
            await self._write(claim.name)
            live = await self._others(claim)
            if not live:
                self.claim = claim
                if waited:
                    logger.info("bisync: the other machine's run is over; running now")
                return
            await self._delete(claim.name)
            if time.monotonic() > deadline:
                raise SyncFailed(
                    f"bisync: another machine's bisync of this remote is running (lease "
                    f"{live[0].name} in {self.folder}, written by machine {live[0].machine}); "
                    "this run will be retried"
                )
            if not waited:
                logger.info(
                    "bisync: waiting for another machine's bisync of this remote (machine {})",
                    live[0].machine,
                )
                waited = True
            await anyio.sleep(POLL + secrets.randbelow(1000) / 1000 * POLL)

    async def release(self) -> None:
        """Remove this run's claim, and the lease folder when no other claim is in it (so
        a folder-based remote keeps no empty folder); a failure leaves the claim to expire
        (logged)."""
        if self.claim is not None:
            await self._delete(self.claim.name)
            await self._remove_folder()
            self.claim = None

    async def _others(self, mine: Claim) -> list[Claim]:
        live, stale = others(await self._list(), mine, time.time())
        for name in stale:
            await self._delete(name)
        return live

    async def _write(self, name: str) -> None:
        """Write the empty object ``name`` into the lease folder."""
        if self.local is None:
            await self._rclone("touch", f"{self.folder}/{name}")
            return
        try:
            self.local.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.local / name, os.O_WRONLY | os.O_CREAT, 0o666))
        except OSError as exc:
            raise SyncFailed(f"bisync: writing the lease failed: {exc}") from exc

    async def _list(self) -> list[str]:
        """The names of the files in the lease folder (none when it does not exist)."""
        if self.local is None:
            result = await self.session.rc.run(
                ["lsf", "--files-only", self.folder], per_file=False, quiet_errors=True
            )
            if not result.ok and not result.dir_not_found:
                raise SyncFailed(f"bisync: reading the lease failed: {result.message()}")
            return result.stdout.decode("utf-8", "replace").splitlines() if result.ok else []
        try:
            with os.scandir(self.local) as entries:
                return [e.name for e in entries if e.is_file(follow_symlinks=False)]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SyncFailed(f"bisync: reading the lease failed: {exc}") from exc

    async def _delete(self, name: str) -> None:
        """Remove the object ``name`` from the lease folder; a failure is only logged."""
        if self.local is None:
            await self._rclone("deletefile", f"{self.folder}/{name}", quiet=True)
            return
        try:
            (self.local / name).unlink()
        except OSError as exc:
            logger.debug("bisync lease: removing {} failed: {}", self.local / name, exc)

    async def _remove_folder(self) -> None:
        """Remove the lease folder when it is empty (not on bucket remotes: no folders)."""
        if self.local is not None:
            try:
                self.local.rmdir()
            except OSError as exc:  # another machine's claim in it, or already gone
                logger.debug("bisync lease: removing {} failed: {}", self.local, exc)
            return
        features = await self.session.features(ask=False)
        if features is None or features.kind not in BUCKET_KINDS:
            await self._rclone("rmdir", self.folder, "--retries", "1", quiet=True)

    async def _rclone(self, command: str, target: str, *extra: str, quiet: bool = False) -> None:
        result = await self.session.rc.run(
            [command, target, *extra], per_file=False, quiet_errors=True
        )
        if result.ok:
            return
        if quiet:
            logger.debug("bisync lease: {} {} failed: {}", command, target, result.message())
            return
        raise SyncFailed(f"bisync: writing the lease failed: {result.message()}")
