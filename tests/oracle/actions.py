"""Executes :class:`~tests.oracle.ops.Op`s against a :class:`~tests.oracle.world.World` and
reports every completed write and removal to the :class:`~tests.oracle.model.Model`.
INTERFACE STUB — the "model" engineer implements it."""

from __future__ import annotations

from dataclasses import dataclass

from tests.oracle.model import Model
from tests.oracle.ops import Op
from tests.oracle.world import World


@dataclass
class Outcome:
    """What applying one op did: ``done`` a one-line description for the log; ``skipped``
    when its path was gone (e.g. deleted by a sync); ``background`` when a thread still runs
    it (slow writers, a root restored later) — :func:`finish` joins those."""

    done: str
    skipped: bool = False
    background: object | None = None


def apply(op: Op, world: World, model: Model) -> Outcome:
    """Apply ``op`` now."""
    raise NotImplementedError


def finish(outcomes: list[Outcome], timeout: float) -> list[str]:
    """Wait for the background parts of ``outcomes``; returns problems (one line each)."""
    raise NotImplementedError
