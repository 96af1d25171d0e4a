"""The invariants. INTERFACE STUB — the "model" engineer implements it."""

from __future__ import annotations

from dataclasses import dataclass

from tests.oracle.model import Model
from tests.oracle.snapshot import Snapshot

INVARIANTS = ("nothing-lost", "convergence", "honesty", "exactly-once", "no-leftovers")


@dataclass(frozen=True)
class Violation:
    """The first thing found wrong: which invariant, a one-line summary, the paths involved."""

    invariant: str
    summary: str
    paths: tuple[str, ...] = ()

    def __str__(self) -> str:
        shown = ", ".join(repr(p) for p in self.paths[:10])
        return f"{self.invariant}: {self.summary}" + (f" [{shown}]" if shown else "")


def check(snapshot: Snapshot, model: Model) -> list[Violation]:
    """Every violated invariant 1-4 in ``snapshot`` (5, leftovers, is checked at stop)."""
    raise NotImplementedError
