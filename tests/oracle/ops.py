"""Seeded operations. INTERFACE STUB — the "model" engineer implements it. ``generate`` is
pure and deterministic: the same (seed, count, topology, remote) gives the same list, with
concrete paths chosen from the generator's own shadow of the namespace."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Op:
    """One operation. ``place`` as in :mod:`tests.oracle.snapshot` (a fault names the machine
    in ``place``); paths are POSIX, ``os.fsdecode``d (invalid UTF-8 as surrogate escapes)."""

    index: int
    kind: str  # e.g. "create", "overwrite", "rename", "kill_daemon", "edit_config", "pause"
    place: str
    path: str = ""
    target: str = ""  # rename / move destination, symlink target
    size: int = 0
    seed: int = 0  # content seed
    args: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """One JSON line for the replay log (surrogates escaped)."""
        return json.dumps(asdict(self), ensure_ascii=True, sort_keys=True)

    @staticmethod
    def parse(line: str) -> Op:
        """The inverse of :meth:`line`."""
        return Op(**json.loads(line))


def generate(seed: int, count: int, topology: str, remote: str) -> list[Op]:
    """``count`` operations for ``topology`` on ``remote``, from ``seed``."""
    raise NotImplementedError
