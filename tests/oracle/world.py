"""The oracle's world: machines (own HOME, config, ``watch`` daemon) over one remote, and the
faults it can inject. INTERFACE STUB — the "world" engineer implements it; the signatures and
their documented meaning are the contract the other modules code against.

Topologies:
- ``"mailbox-mirror"``: machine ``gw`` (mode mailbox, the agent's gateway) and ``laptop``
  (mode mirror, ``ingest = true``, ingest folder ``<workspace>/inbox`` outside its sync root);
- ``"bisync"``: machines ``a`` and ``b`` (mode bisync, ``conflict_resolve = "newer"``).
Remotes: ``"local"`` (provider local: a folder), ``"s3"`` (``rclone serve s3``), ``"moto"``
(moto's S3 server; :class:`Unavailable` when it cannot start)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.oracle.snapshot import Snapshot

TOPOLOGIES = ("mailbox-mirror", "bisync")
REMOTES = ("local", "s3", "moto")


class Unavailable(Exception):
    """A part of the world cannot run here (e.g. moto missing); the message says why."""


@dataclass
class Machine:
    """One machine of the world."""

    name: str  # "gw" | "laptop" | "a" | "b"
    mode: str  # "mailbox" | "mirror" | "bisync"
    base: Path  # its folder: home/, ws/, sync.toml, logs
    workspace: Path
    sync_root: Path  # workspace / "shared"
    ingest: Path | None  # laptop: workspace / "inbox"; None elsewhere
    config: Path
    env: dict[str, str]  # the environment its daemon and CLI calls run with (own HOME/XDG)
    state_dir: Path
    excludes: tuple[str, ...]  # the excludes its config holds now


@dataclass(frozen=True)
class Quiet:
    """What :meth:`World.quiesce` found."""

    ok: bool
    waited: float
    why: str = ""  # when not ok: what was still moving (a daemon busy, a tree changing, ...)


class World:
    """A topology over a remote under ``base``; :meth:`start` builds and starts it."""

    topology: str
    remote: str
    machines: dict[str, Machine]

    def __init__(self, base: Path, topology: str, remote: str, mutant: str | None = None) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Write the configs, run the first cycles (bisync: ``sync --resync`` on ``a``, then
        ``sync`` on ``b``), start every daemon and wait until each has finished its first
        cycle. Raises :class:`Unavailable` when the remote cannot be started here."""
        raise NotImplementedError

    # -- the remote, as another client sees it (paths relative to the remote root) --
    def remote_files(self) -> dict[str, bytes]:
        """Every file under the remote root (``_outbox/`` included)."""
        raise NotImplementedError

    def remote_write(self, rel: str, data: bytes) -> None:
        """Put ``rel`` on the remote atomically, as another client would (S3: through the API)."""
        raise NotImplementedError

    def remote_write_slow(self, rel: str, chunks: list[bytes], pause: float) -> bool:
        """Write ``rel`` in place chunk by chunk with ``pause`` s between chunks (a slow
        uploader); only where the remote is a folder on disk (``local``). Returns False (and
        writes nothing) where that is not possible."""
        raise NotImplementedError

    def remote_delete(self, rel: str) -> None:
        """Delete ``rel`` on the remote (missing: nothing)."""
        raise NotImplementedError

    # -- daemons and faults --
    def kill_daemon(self, name: str) -> None:
        """SIGKILL ``name``'s daemon process group (daemon, rclone, hooks) and start a new one."""
        raise NotImplementedError

    def kill_rclone(self, name: str) -> int:
        """SIGKILL the rclone processes ``name``'s daemon runs right now; returns how many."""
        raise NotImplementedError

    def stall(self, seconds: float) -> bool:
        """Stall the TCP proxy in front of the remote's endpoint for ``seconds`` (returns at
        once; the proxy flows again afterwards). False (nothing done) on a ``local`` remote."""
        raise NotImplementedError

    def remove_root(self, name: str) -> None:
        """Move ``name``'s sync root away (rename within its workspace's parent)."""
        raise NotImplementedError

    def restore_root(self, name: str) -> None:
        """Move the sync root removed by :meth:`remove_root` back (same inode)."""
        raise NotImplementedError

    def edit_config(
        self, name: str, *, exclude: list[str] | None = None, debounce: float | None = None
    ) -> None:
        """Rewrite ``name``'s ``sync.toml`` with new excludes and/or debounce, then SIGHUP its
        daemon; :attr:`Machine.excludes` follows."""
        raise NotImplementedError

    def status(self, name: str) -> dict[str, Any]:
        """``workspace-sync status --json`` of ``name`` (its own environment)."""
        raise NotImplementedError

    def quiesce(self, timeout: float) -> Quiet:
        """Wait, bounded by ``timeout``, until every daemon is idle (no run, nothing pending)
        and no tree changed for a quiet window; cloud remotes get the ``trigger``s a user
        would send. Never a bare sleep beyond the quiet window."""
        raise NotImplementedError

    def snapshot(self) -> Snapshot:
        """Digests of every place (see :mod:`tests.oracle.snapshot`), statuses and excludes."""
        raise NotImplementedError

    def stop(self) -> list[str]:
        """SIGTERM every daemon (wait for exit), then list what is left: rclone or hook
        processes of this world still alive (each a one-line description; [] = clean), a
        daemon exit code other than 0."""
        raise NotImplementedError

    def logs(self) -> dict[str, str]:
        """Every daemon log of this world (machine name -> text, restarts concatenated)."""
        raise NotImplementedError
