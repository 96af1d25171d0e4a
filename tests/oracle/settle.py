"""When the oracle's world is quiet, and what it holds then: quiescence (daemons idle, no
tree changing for long enough) and the snapshot the checker reads."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.oracle import remote
from tests.oracle.snapshot import (
    REMOTE,
    Snapshot,
    backups_place,
    digest,
    digest_tree,
    ingest_place,
)

if TYPE_CHECKING:
    from tests.oracle.world import World

#: No tree may change for this long (> debounce 0.1 + outbox_settle 0.5 + a drain's copy)
#: before a world counts as quiet.
QUIET = 1.2
#: On S3, daemons poll every 2 s: quiet means no change through two polls and a run.
QUIET_POLLED = 5.5
POLL = 0.1


@dataclass(frozen=True)
class Quiet:
    """What :func:`quiesce` found."""

    ok: bool
    waited: float
    why: str = ""  # when not ok: what was still moving (a daemon busy, a tree changing, ...)


def _fingerprint(world: World) -> tuple[object, ...]:
    roots = [] if world.moto is not None else [world.remote_dir]
    for m in world.machines.values():
        roots += [m.sync_root, m.state_dir / "mirror-backups"] + ([m.ingest] if m.ingest else [])
    out = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            remote.prune_lease(world.remote_dir, folder, dirs)
            for name in files:
                try:
                    st = os.lstat(os.path.join(folder, name))
                except OSError:
                    continue
                out.append((folder, name, st.st_size, st.st_mtime_ns))
    return (*sorted(out), *remote.listing(world))


def _quiet_once(world: World, deadline: float) -> str:
    """Wait until every daemon is idle and nothing changed for :data:`QUIET` seconds. On
    S3 (daemons poll it every ``interval`` s) a periodic run that changes nothing does not
    count as movement: nothing may change for :data:`QUIET_POLLED` s (two polls and more)
    and every daemon be idle at the end."""
    polled = world.polled
    quiet = QUIET_POLLED if polled else QUIET
    last, since = _fingerprint(world), time.monotonic()
    triggered: set[str] = set()
    while time.monotonic() < deadline:
        dead = [n for n, p in world.procs.items() if p.poll() is not None]
        if dead:
            return f"daemon of {dead} exited ({[world.procs[n].returncode for n in dead]})"
        busy = [n for n in world.machines if not world.idle(n)]
        for name in set(world.machines) - set(busy) - triggered:
            state = world.daemon_state(name) or {}
            if state.get("stalled") or state.get("blocked"):
                # the run after a path stalls syncs it apart, a block is re-checked only
                # every 10 s (its cause may be gone: a sync root put back): `trigger` retries
                # at once, as a user would
                triggered.add(name)
                world.cli(name, "trigger")
                busy.append(name)
        now = _fingerprint(world)
        if now != last or (busy and not polled):
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet and not busy:
            return ""
        time.sleep(POLL)
    busy = [n for n in world.machines if not world.idle(n)]
    return f"still moving after the bound (busy: {busy})"


def quiesce(world: World, timeout: float) -> Quiet:
    """Wait, bounded by ``timeout``, until every daemon is idle and no tree changed for
    long enough (see :meth:`_quiet_once`)."""
    started = time.monotonic()
    why = _quiet_once(world, started + timeout)
    return Quiet(not why, time.monotonic() - started, why)


def snapshot(world: World) -> Snapshot:
    """Digests of every place, statuses and excludes. A periodic run (``interval``) may
    be caught in progress: then, a few times (bounded), wait for that daemon to be idle and
    read its status again (each machine on its own: the others' are not read again)."""
    trees = _trees(world)
    deadline = time.monotonic() + 10
    return Snapshot(
        trees=trees,
        statuses=statuses(world, deadline),
        excludes={n: m.excludes for n, m in world.machines.items()},
        modes={n: m.mode for n, m in world.machines.items()},
    )


def _settled_status(world: World, name: str, deadline: float | None) -> dict[str, Any]:
    """``name``'s ``status --json``; with a ``deadline``, read again (at most 3 times) once
    its daemon is idle while it says ``syncing``."""
    status = world.status(name)
    for _attempt in range(3 if deadline is not None else 0):
        if status.get("health") != "syncing" or deadline is None:
            break
        world.wait_idle(name, max(0.0, deadline - time.monotonic()))
        status = world.status(name)
    return status


def statuses(world: World, deadline: float | None = None) -> dict[str, dict[str, Any]]:
    """Every machine's ``status --json``, read at the same time (one thread each); with a
    ``deadline``, each past a periodic run in progress (see :func:`_settled_status`)."""
    out: dict[str, dict[str, Any]] = {}
    threads = [
        threading.Thread(target=lambda n=n: out.__setitem__(n, _settled_status(world, n, deadline)))
        for n in world.machines
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {n: out[n] for n in world.machines}


def _trees(world: World) -> dict[str, dict[str, str]]:
    trees: dict[str, dict[str, str]] = {
        REMOTE: {k: digest(v) for k, v in remote.files(world).items()}
    }
    for name, m in world.machines.items():
        trees[name] = digest_tree(m.sync_root)
        trees[backups_place(name)] = digest_tree(m.state_dir / "mirror-backups")
        if m.ingest is not None:
            trees[ingest_place(name)] = digest_tree(m.ingest)
    return trees


def catches(pid: int, signum: int) -> bool:
    """True when process ``pid`` has a handler for ``signum`` (``SigCgt`` in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def wait_catching(pid: int, signum: int, timeout: float = 30.0) -> None:
    """Wait (at most ``timeout``) until ``pid`` handles ``signum``: a ``watch`` that the world
    just (re)started is still a bare Python interpreter for the first tens of milliseconds (far
    longer on a loaded machine), before its entry point makes SIGHUP harmless, and the default
    action of SIGHUP ends it. systemd's ``Type=notify`` unit orders a reload after the start in
    the same way; past the deadline the signal is sent anyway."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not catches(pid, signum):
        time.sleep(0.01)
