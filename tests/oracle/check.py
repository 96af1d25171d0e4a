"""The invariants 1-4 (the 5th, no leftovers, is :meth:`World.stop`):

1. nothing lost: every mandatory version's digest is somewhere the contract puts it;
2. convergence: the synced trees are identical (minus mailbox folders and excludes);
3. honesty: each machine's health is ``ok`` exactly when its part converged;
4. exactly once: each inbound version is in the gateway's ``_inbox`` once (superseded ones
   at most once), nothing else is there."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from tests.oracle.model import Model
from tests.oracle.snapshot import REMOTE, Snapshot

INVARIANTS = ("nothing-lost", "convergence", "honesty", "exactly-once", "no-leftovers")
MAILBOX = ("_inbox/", "_outbox/")


@dataclass(frozen=True)
class Violation:
    """The first thing found wrong: which invariant, a one-line summary, the paths involved."""

    invariant: str
    summary: str
    paths: tuple[str, ...] = ()

    def __str__(self) -> str:
        shown = ", ".join(repr(p) for p in self.paths[:10])
        return f"{self.invariant}: {self.summary}" + (f" [{shown}]" if shown else "")


def _glob(pattern: str) -> re.Pattern[str]:
    """rclone's reading of a glob: ``**`` any text, ``*`` and ``?`` within one path element;
    a leading ``/`` anchors at the root, otherwise it matches the end of the path at an
    element boundary (``excluded/**`` also excludes ``moved/excluded/x``); ``**/x`` also
    matches a top-level ``x`` (the spec's reading, which the tool expands to)."""
    if pattern.startswith("**/"):
        pattern = pattern[3:]
    body = re.escape(pattern.lstrip("/")).replace(r"\*\*", "\0").replace(r"\*", "[^/]*")
    body = body.replace(r"\?", "[^/]").replace("\0", ".*")
    head = "^" if pattern.startswith("/") else "(^|/)"
    return re.compile(f"{head}{body}$")


def excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    """Whether rclone's ``--exclude`` of ``patterns`` leaves ``rel`` out."""
    return any(_glob(p).search(rel) for p in patterns)


def synced(tree: Mapping[str, str], patterns: tuple[str, ...]) -> dict[str, str]:
    """``tree`` without the mailbox folders and excluded paths."""
    return {
        rel: d
        for rel, d in tree.items()
        if not rel.startswith(MAILBOX) and not excluded(rel, patterns)
    }


def _diff(a: Mapping[str, str], b: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)))


def _pairs(snap: Snapshot) -> list[tuple[str, str, str]]:
    """(machine, left place, right place) that must be equal."""
    if "gw" in snap.trees:
        return [("gw", "gw", REMOTE), ("laptop", REMOTE, "laptop")]
    return [("a", "a", REMOTE), ("b", REMOTE, "b")]


def _reported(rel: str, stalled: tuple[str, ...]) -> bool:
    """``rel`` is a path ``status`` names as stalled, or inside or above one."""
    return any(rel == p or rel.startswith(f"{p}/") or p.startswith(f"{rel}/") for p in stalled)


def convergence(snap: Snapshot, model: Model) -> tuple[list[Violation], set[str]]:
    """Convergence violations, and the machines whose part did not converge (a mirror's
    local edit not reverted yet is not one: see :meth:`Model.local_edit`)."""
    patterns = tuple(p for m in snap.excludes.values() for p in m)
    found, off = [], set()
    for machine, left, right in _pairs(snap):
        diff = _diff(synced(snap.trees[left], patterns), synced(snap.trees[right], patterns))
        if machine == "laptop":
            diff = tuple(rel for rel in diff if not model.local_edit(rel))
        stalled = tuple(snap.statuses.get(machine, {}).get("stalled") or ())
        diff = tuple(rel for rel in diff if not _reported(rel, stalled))
        if diff:
            off.add(machine)
            found.append(Violation("convergence", f"{left} != {right} ({len(diff)} paths)", diff))
    if "gw" in snap.trees:
        waiting = tuple(r for r in snap.trees[REMOTE] if r.startswith("_outbox/"))
        if waiting:
            off.add("gw")
            found.append(Violation("convergence", "remote _outbox not drained", waiting))
    return found, off


def nothing_lost(snap: Snapshot, model: Model) -> list[Violation]:
    """Mandatory versions found nowhere (any place, backups and conflict copies included)."""
    everywhere = {d for tree in snap.trees.values() for d in tree.values()}
    lost = [v for v in model.mandatory() if v.digest not in everywhere]
    if not lost:
        return []
    paths = tuple(f"{v.place}:{v.rel} (op {v.op}, {v.digest[:8]})" for v in lost)
    return [Violation("nothing-lost", f"{len(lost)} versions found nowhere", paths)]


def exactly_once(snap: Snapshot, model: Model) -> list[Violation]:
    """Inbound versions in ``gw``'s ``_inbox``: mandatory once, superseded at most once."""
    if "gw" not in snap.trees:
        return []
    inbox = Counter(d for rel, d in snap.trees["gw"].items() if rel.startswith("_inbox/"))
    where = {d: rel for rel, d in snap.trees["gw"].items() if rel.startswith("_inbox/")}
    expected = model.inbound()
    bad = []
    for d, count in inbox.items():
        _must, may = expected.get(d, (0, 0))
        if count > may:
            bad.append(f"{where[d]} x{count} (expected at most {may})")
    missing = [d for d, (must, _may) in expected.items() if must and inbox[d] < must]
    found = []
    if bad:
        found.append(Violation("exactly-once", "in _inbox too often or never dropped", tuple(bad)))
    if missing:
        paths = tuple(
            f"{v.place}:{v.rel} (op {v.op})" for v in model.versions if v.digest in missing
        )
        found.append(
            Violation("exactly-once", f"{len(missing)} inbound versions not in _inbox", paths)
        )
    return found


def honesty(snap: Snapshot, off: set[str]) -> list[Violation]:
    """Health ``ok`` exactly for the machines whose part converged and that report no stalled
    path (a stalled path is the contract's way to report what cannot converge)."""
    found = []
    for machine, status in snap.statuses.items():
        if status.get("health") == "syncing":
            continue  # a periodic run caught in progress (after the snapshot's re-reads)
        ok = status.get("health") == "ok"
        bad = machine in off or bool(status.get("stalled"))
        if ok and bad:
            found.append(Violation("honesty", f"{machine} says ok but did not converge"))
        elif not ok and not bad:
            found.append(
                Violation(
                    "honesty",
                    f"{machine} converged but says {status.get('health')!r}: "
                    f"{status.get('action')}",
                )
            )
    return found


def check(snapshot: Snapshot, model: Model) -> list[Violation]:
    """Every violated invariant 1-4 in ``snapshot``, the most important first."""
    conv, off = convergence(snapshot, model)
    return [
        *nothing_lost(snapshot, model),
        *exactly_once(snapshot, model),
        *conv,
        *honesty(snapshot, off),
    ]
