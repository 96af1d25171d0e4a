"""Seeded operations. ``generate`` is pure and deterministic: the same (seed, count,
topology, remote) gives the same list, with concrete paths chosen from the generator's own
shadow of the namespace (the paths its earlier operations created and did not remove)."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.oracle.names import pick_name


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


#: (kind, weight) of the file operations on a machine's sync root.
ROOT_OPS = (
    ("create", 20),
    ("overwrite", 9),
    ("append", 4),
    ("truncate", 3),
    ("delete", 7),
    ("same_size", 5),
    ("atomic_replace", 4),
    ("rename", 5),
    ("move_dir", 1),
    ("recreate", 2),
    ("type_change", 1),
    ("symlink", 1),
    ("fifo", 1),
    ("slow_write", 2),
)
FAULTS = (
    ("kill_daemon", 2),
    ("kill_rclone", 2),
    ("stall", 1),
    ("remove_root", 1),
    ("edit_config", 1),
    ("pause", 2),
)


def _size(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.08:
        return 0
    if roll < 0.96:
        return rng.randint(1, 4096)
    return rng.randint(64 * 1024, 2 * 1024 * 1024 if roll > 0.99 else 256 * 1024)


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    kinds, weights = zip(*table, strict=True)
    return str(rng.choices(kinds, weights)[0])


class _Gen:
    def __init__(self, seed: int, topology: str, remote: str) -> None:
        self.rng = random.Random(seed)
        self.topology, self.remote = topology, remote
        self.live: dict[str, list[str]] = {}  # place -> paths (list: deterministic order)
        self.n = 0
        writers = ["gw", "gw", "gw", "gw", "laptop:ingest", "remote", "laptop"]
        self.writers = writers if topology == "mailbox-mirror" else ["a", "b"]
        self.machines = ["gw", "laptop"] if topology == "mailbox-mirror" else ["a", "b"]

    def new_path(self, place: str) -> str:
        self.n += 1
        if place == "remote":
            return f"_outbox/drop {self.n}.txt" if self.rng.random() < 0.7 else "_outbox/same.txt"
        if place.endswith(":ingest"):
            return f"in {self.n}.txt" if self.rng.random() < 0.7 else "again.txt"
        return pick_name(self.rng, self.n)

    def existing(self, place: str) -> str | None:
        paths = self.live.get(place, [])
        return self.rng.choice(paths) if paths else None

    def op(self, index: int) -> Op:
        rng = self.rng
        if rng.random() < 0.05:
            return self.fault(index)
        place = rng.choice(self.writers)
        if place == "laptop":  # a local edit in the mirror: overwrite a file the gateway made
            path = self.existing("gw")
            if path is None:
                return Op(index, "pause", "gw", args={"seconds": 0.1})
            return Op(
                index, "overwrite", "laptop", path, size=_size(rng) or 1, seed=rng.randrange(2**31)
            )
        if place in ("remote", "laptop:ingest"):
            kind = (
                "slow_write"
                if rng.random() < 0.15 and (place != "remote" or self.remote == "local")
                else "create"
            )
            return Op(
                index,
                kind,
                place,
                self.new_path(place),
                size=_size(rng) or 1,
                seed=rng.randrange(2**31),
            )
        if self.topology == "bisync" and rng.random() < 0.05:
            path = self.existing(place)
            if path:
                return Op(
                    index, "both_edit", place, path, size=_size(rng) or 1, seed=rng.randrange(2**31)
                )
        return self.root_op(index, place)

    def root_op(self, index: int, place: str) -> Op:
        rng = self.rng
        kind = _weighted(rng, ROOT_OPS)
        live = self.live.setdefault(place, [])
        if kind in ("create", "slow_write", "symlink", "fifo") or not live:
            path = self.new_path(place)
            if kind in ("create", "slow_write"):
                live.append(path)
            elif kind not in ("symlink", "fifo"):
                kind = "create"
                live.append(path)
            target = rng.choice(["../outside.txt", "missing-target", live[0] if live else "x"])
            return Op(
                index, kind, place, path, target=target, size=_size(rng), seed=rng.randrange(2**31)
            )
        path = rng.choice(live)
        if kind in ("delete", "type_change"):
            live.remove(path)
        if kind == "rename":
            target = self.new_path(place)
            live.remove(path)
            live.append(target)
            return Op(index, kind, place, path, target=target)
        if kind == "move_dir":
            folder = path.rpartition("/")[0]
            if not folder:
                return Op(
                    index,
                    "append",
                    place,
                    path,
                    size=rng.randint(1, 500),
                    seed=rng.randrange(2**31),
                )
            target = f"moved{self.n}/{folder.rpartition('/')[2]}"
            self.n += 1
            for i, p in enumerate(live):
                if p.startswith(folder + "/"):
                    live[i] = target + p[len(folder) :]
            return Op(index, kind, place, folder, target=target)
        return Op(index, kind, place, path, size=_size(rng), seed=rng.randrange(2**31))

    def fault(self, index: int) -> Op:
        rng = self.rng
        kind = _weighted(rng, FAULTS)
        machine = rng.choice(self.machines)
        if kind == "stall" and self.remote == "local":
            kind = "pause"
        if kind == "stall":
            return Op(index, kind, machine, args={"seconds": round(rng.uniform(1, 10), 1)})
        if kind == "remove_root":
            return Op(index, kind, machine, args={"restore_after": round(rng.uniform(0.5, 3), 2)})
        if kind == "edit_config":
            return Op(index, kind, machine, args={"debounce": rng.choice([0.05, 0.1, 0.3])})
        if kind == "pause":
            return Op(index, kind, machine, args={"seconds": round(rng.uniform(0.1, 1.5), 2)})
        return Op(index, kind, machine)


def generate(seed: int, count: int, topology: str, remote: str) -> list[Op]:
    """``count`` operations for ``topology`` on ``remote``, from ``seed``."""
    gen = _Gen(seed, topology, remote)
    return [gen.op(i) for i in range(count)]
