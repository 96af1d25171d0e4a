"""Deliberately broken variants of the tool, for testing the oracle's checker (issue 16).

``python -m tests.oracle.mutant NAME <workspace-sync args>`` applies mutant ``NAME`` in this
process (monkeypatching ``watcher`` at one narrow place, by module attribute, so that every
importer sees it; no file is edited), then runs the real CLI exactly as the console script
does (:func:`watcher.entry.main`): ``watch``, ``sync``, ``status``, ``trigger`` all run
mutated. An unknown name is one line on stderr and exit 2.

Each :class:`Mutant` names the oracle invariants (:data:`tests.oracle.check.INVARIANTS`) it
must make the checker report and the topology that exercises it; ``test_mutant_breaks.py``
shows each one really breaks the tool (independently of the oracle), ``test_mutants.py``
that the oracle catches it.
"""

from __future__ import annotations

import dataclasses
import importlib
import signal
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Mutant:
    """One broken variant: ``apply`` monkeypatches ``watcher`` in this process."""

    name: str
    description: str
    #: the oracle invariants it must violate (names of ``tests.oracle.check.INVARIANTS``)
    catches: tuple[str, ...]
    #: the oracle topology that exercises it (``tests.oracle.world.TOPOLOGIES``)
    topology: str
    apply: Callable[[], None]


#: ``(attribute name, original object)`` of every patch applied in this process
REPLACED: list[tuple[str, object]] = []


def _replace(attr: str, new: Any, *modules: str, scoped: bool = False) -> Any:
    """Set ``attr`` to ``new`` in each of ``modules`` (the defining module first, then every
    module holding a ``from x import attr`` copy); returns the original. A module that lacks
    the attribute, or holds another object under it, is an error: the mutant would silently
    patch nothing after a refactor. ``scoped``: only the importers named are meant to be
    broken (e.g. the drain's copy of a helper the ingest shares), so
    :func:`stale_copies` does not list the others."""
    loaded = [importlib.import_module(name) for name in modules]  # all before any patch
    original = getattr(loaded[0], attr)
    for module in loaded:
        if getattr(module, attr, None) is not original:
            raise RuntimeError(f"mutant: {module.__name__}.{attr} is not what it patches")
    for module in loaded:
        setattr(module, attr, new)
    if not scoped:
        REPLACED.append((attr, original))
    return original


def stale_copies() -> list[str]:
    """``module.attr`` of every ``watcher`` module (all imported now) that still holds an
    object a mutant replaced: a ``from x import f`` copy the mutant does not patch."""
    import pkgutil

    import watcher

    found = []
    for info in pkgutil.walk_packages(watcher.__path__, "watcher."):
        module = importlib.import_module(info.name)
        for attr, original in REPLACED:
            if getattr(module, attr, None) is original:
                found.append(f"{info.name}.{attr}")
    return found


# -- drain-deletes-first -------------------------------------------------------------------


def _drain_deletes_first() -> None:
    """The drain deletes the claimed outbox files before copying them: the copy then finds
    nothing, the files fail as "not staged" and the next drain forgets them."""
    from watcher.engine.drain import Drain

    original = Drain._land

    async def land(self: Drain, entries: list[Any], listing: list[Any], outcome: Any) -> None:
        present = {e.path for e in listing}
        doomed = [e for e in entries if not e.landed and e.claim in present]
        await self.outbox.delete_landed(doomed)  # the bug: before they have landed
        await original(self, entries, listing, outcome)

    Drain._land = land  # type: ignore[method-assign]


# -- push-without-outbox-exclude -----------------------------------------------------------


def _push_without_outbox_exclude() -> None:
    """The mailbox's one-way filter lacks ``/_outbox/**``: a full push deletes the drops
    waiting in the remote ``_outbox`` (and the drain's claims) before they are drained."""
    from watcher.plan import OUTBOX, PathFilter

    dropped = {f"/{OUTBOX}/**", f"/{OUTBOX}"}
    original: Callable[..., PathFilter]

    def sync_filter(cfg: Any, *, for_bisync: bool = False) -> PathFilter:
        built = original(cfg, for_bisync=for_bisync)
        if cfg.mode != "mailbox" or for_bisync:
            return built
        return PathFilter(tuple(p for p in built.patterns if p not in dropped))

    original = _replace(
        "sync_filter", sync_filter, "watcher.plan.cycle", "watcher.plan", "watcher.daemon.roots"
    )


# -- health-always-ok ----------------------------------------------------------------------


def _health_always_ok() -> None:
    """``status`` says ``ok`` whatever the runs and roots say."""

    def assess(data: dict[str, Any]) -> tuple[str, None, None]:
        return "ok", None, None

    _replace("assess", assess, "watcher.engine.status")


# -- pull-without-backup -------------------------------------------------------------------


class _WithoutBackupDir:
    """An ``Rclone`` that runs every command without ``--backup-dir DIR``."""

    def __init__(self, rc: Any) -> None:
        self._rc = rc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rc, name)

    async def run(self, args: Sequence[str], **kwargs: Any) -> Any:
        kept: list[str] = []
        skip = False
        for arg in args:
            if skip:
                skip = False
            elif arg == "--backup-dir":
                skip = True
            else:
                kept.append(arg)
        return await self._rc.run(kept, **kwargs)


def _pull_without_backup() -> None:
    """The mirror pull runs without ``--backup-dir``: local edits are overwritten (or
    deleted) by the pull and kept nowhere."""
    original: Callable[..., Any]

    async def run_one_way(session: Any, step: Any, **kwargs: Any) -> Any:
        if step.kind == "pull":
            session = dataclasses.replace(session, rc=_WithoutBackupDir(session.rc))
        return await original(session, step, **kwargs)

    original = _replace(
        "run_one_way",
        run_one_way,
        "watcher.engine.oneway",
        "watcher.engine.cycle",
        "watcher.engine.moves",
    )


# -- ingest-resends ------------------------------------------------------------------------


def _ingest_resends() -> None:
    """The ingest ledger is ignored: every file of the ingest folder counts as new on every
    ingest run and is uploaded again (under a free name while the old copy waits)."""

    def changed_since(ledger: dict[str, Any], listing: dict[str, Any]) -> list[str]:
        return sorted(listing)

    _replace("changed_since", changed_since, "watcher.engine.ingest")


# -- debounce-drops-last -------------------------------------------------------------------


def _debounce_drops_last() -> None:
    """The incremental push omits the last path of its change set (a burst of one event
    pushes nothing) and still reports success."""
    original: Callable[..., Any]

    async def run_incremental_push(
        session: Any, step: Any, paths: Collection[str], **kwargs: Any
    ) -> Any:
        return await original(session, step, sorted(paths)[:-1], **kwargs)

    original = _replace(
        "run_incremental_push",
        run_incremental_push,
        "watcher.engine.incremental",
        "watcher.engine.cycle",
        "watcher.engine.moves",
    )


# -- bisync-drops-loser --------------------------------------------------------------------


def _bisync_drops_loser() -> None:
    """bisync runs with ``--conflict-loser delete``: the losing side of a conflict is
    deleted instead of kept as ``<name>.conflictN``; and without the guard that moves every
    replaced file aside (``--backup-dir1/2``, finding 16-5), which would put the deleted
    loser back."""
    original: Callable[..., tuple[str, ...]]
    _replace("guard_args", lambda guards: [], "watcher.engine.bisync_kept", "watcher.engine.bisync")

    def bisync_flags(cfg: Any, **kwargs: Any) -> tuple[str, ...]:
        flags = list(original(cfg, **kwargs))
        where = flags.index("--conflict-loser")
        flags[where + 1] = "delete"
        return tuple(flags)

    original = _replace("bisync_flags", bisync_flags, "watcher.plan.cycle")


# -- drain-overwrites ----------------------------------------------------------------------


def _drain_overwrites() -> None:
    """The drain takes ``_inbox`` for empty when naming inbound files and places them by
    replacing: an inbound file named like one already in ``_inbox`` overwrites it."""
    import os

    def folder_lister(root: Any) -> Callable[[str], set[str]]:
        return lambda folder: set()

    def place(staged: Any, inbox: Any, target: str) -> None:
        dest = inbox / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, dest)

    def rename_taken(inbox: Any, entries: list[Any], names: Any) -> bool:
        return False

    _replace("folder_lister", folder_lister, "watcher.engine.drain", scoped=True)
    _replace("place", place, "watcher.engine.drain", scoped=True)
    _replace("rename_taken", rename_taken, "watcher.engine.drain", scoped=True)


# -- drain-keeps-landed --------------------------------------------------------------------


def _drain_keeps_landed() -> None:
    """The drain never deletes what landed from the remote ``_outbox``: the next drain takes
    the claimed files again and delivers them a second time (``note (1).txt``)."""
    from watcher.engine.outbox import Outbox

    async def delete_landed(self: Outbox, landed: list[Any]) -> int:
        return 0

    Outbox.delete_landed = delete_landed  # type: ignore[method-assign]


MUTANTS: dict[str, Mutant] = {
    m.name: m
    for m in (
        Mutant(
            "drain-deletes-first",
            "the mailbox drain deletes the claimed _outbox files before copying them",
            ("nothing-lost", "exactly-once"),
            "mailbox-mirror",
            _drain_deletes_first,
        ),
        Mutant(
            "push-without-outbox-exclude",
            "the mailbox push's filter lacks /_outbox/**: a full push deletes undrained drops",
            ("nothing-lost",),
            "mailbox-mirror",
            _push_without_outbox_exclude,
        ),
        Mutant(
            "health-always-ok",
            "status health is always ok",
            ("honesty",),
            "mailbox-mirror",
            _health_always_ok,
        ),
        Mutant(
            "pull-without-backup",
            "the mirror pull runs without --backup-dir: local edits are overwritten, not kept",
            ("nothing-lost",),
            "mailbox-mirror",
            _pull_without_backup,
        ),
        Mutant(
            "ingest-resends",
            "the ingest ledger is ignored: every ingest file is uploaded again on every run",
            ("exactly-once",),
            "mailbox-mirror",
            _ingest_resends,
        ),
        Mutant(
            "debounce-drops-last",
            "the incremental push omits the last path of its change set, reporting success",
            ("convergence", "honesty"),
            "mailbox-mirror",
            _debounce_drops_last,
        ),
        Mutant(
            "drain-overwrites",
            "an inbound file named like one in _inbox replaces it instead of landing beside it",
            ("nothing-lost",),
            "mailbox-mirror",
            _drain_overwrites,
        ),
        Mutant(
            "drain-keeps-landed",
            "the drain never deletes landed files from _outbox: the next drain delivers them again",
            ("exactly-once",),
            "mailbox-mirror",
            _drain_keeps_landed,
        ),
        Mutant(
            "bisync-drops-loser",
            "bisync deletes the conflict loser (--conflict-loser delete) instead of keeping it",
            ("nothing-lost",),
            "bisync",
            _bisync_drops_loser,
        ),
    )
}

USAGE = "usage: python -m tests.oracle.mutant NAME [workspace-sync args...]"


def main(argv: Sequence[str] | None = None) -> None:
    """Apply mutant ``argv[0]``, then run ``workspace-sync argv[1:]`` as the console script
    does (exit 2 with one line for a missing or unknown name)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in MUTANTS:
        known = ", ".join(MUTANTS)
        what = f"unknown mutant {args[0]!r}" if args else "no mutant named"
        print(f"{what}; known: {known} ({USAGE})", file=sys.stderr)
        raise SystemExit(2)
    from watcher import entry

    rest = args[1:]
    if "watch" in rest and hasattr(signal, "SIGHUP"):  # as entry.main does, before imports
        signal.signal(signal.SIGHUP, entry._early_sighup)
    MUTANTS[args[0]].apply()
    sys.argv = ["workspace-sync", *rest]
    entry.main()


if __name__ == "__main__":
    main()
