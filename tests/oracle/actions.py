"""Executes :class:`~tests.oracle.ops.Op`s against a :class:`~tests.oracle.world.World` and
reports every completed write and removal to the :class:`~tests.oracle.model.Model`."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.oracle import remote
from tests.oracle.files import write_slowly
from tests.oracle.model import Model
from tests.oracle.ops import Op
from tests.oracle.snapshot import digest
from tests.oracle.world import World


@dataclass
class Outcome:
    """What applying one op did: ``done`` a one-line description for the log; ``skipped``
    when its path was gone (e.g. deleted by a sync); ``background`` when a thread still runs
    it (slow writers, a root restored later) — :func:`finish` joins those."""

    done: str
    skipped: bool = False
    background: object | None = None
    place: str = ""
    path: str = ""

    def overlaps(self, op: Op) -> bool:
        """``op`` touches the path this outcome's background writer is still writing."""
        if not isinstance(self.background, threading.Thread) or not self.background.is_alive():
            return False
        if op.place.partition(":")[0] != self.place.partition(":")[0]:
            return False
        mine = self.path
        return any(
            p and (p == mine or mine.startswith(f"{p}/") or p.startswith(f"{mine}/"))
            for p in (op.path, op.target)
        )


def content(op: Op, size: int | None = None) -> bytes:
    """Unique bytes of ``size`` (default ``op.size``) for ``op`` (empty when 0)."""
    size = op.size if size is None else size
    if size == 0:
        return b""
    head = f"op {op.index} seed {op.seed!r} t {time.monotonic_ns()}\n".encode()
    body = random.Random(f"{op.index}-{op.seed}").randbytes(max(0, size - len(head)))
    return (head + body)[:size] if size >= len(head) else head[:size]


def _prior(path: Path) -> str | None:
    try:
        if path.is_file() and not path.is_symlink():
            return digest(path.read_bytes())
    except OSError:
        pass
    return None


def _root(op: Op, world: World) -> Path | None:
    machine = world.machines[op.place.partition(":")[0]]
    if op.place.endswith(":ingest"):
        return machine.ingest
    if op.place in getattr(world, "_removed", {}):
        return None  # its sync root is moved away right now: writers wait
    return machine.sync_root


def _write(model: Model, place: str, root: Path, rel: str, data: bytes) -> str:
    path = root / rel
    prior = _prior(path)
    if path.is_dir() and not path.is_symlink():
        return "skipped: a folder is there"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    model.wrote(place, rel, digest(data), prior)
    return f"wrote {len(data)} B"


def _files_under(folder: Path) -> list[str]:
    return [str(Path(d, f).relative_to(folder)) for d, _s, files in os.walk(folder) for f in files]


def _file_op(op: Op, root: Path, model: Model) -> Outcome:
    path, place = root / op.path, op.place
    exists = path.is_file() and not path.is_symlink()
    if op.kind in ("create", "overwrite"):
        return Outcome(_write(model, place, root, op.path, content(op)))
    if not exists and op.kind != "move_dir":
        return Outcome("path gone", skipped=True)
    prior = _prior(path)
    if op.kind == "append":
        with path.open("ab") as fh:
            fh.write(content(op, op.size or 1))
    elif op.kind == "truncate":
        os.truncate(path, path.stat().st_size // 2)
    elif op.kind == "same_size":
        path.write_bytes(content(op, path.stat().st_size))
    elif op.kind == "delete":
        path.unlink()
        model.removed(place, op.path, prior)
        return Outcome("deleted")
    elif op.kind == "atomic_replace":
        tmp = path.with_name(path.name[:200] + ".tmp")
        tmp.write_bytes(content(op))
        os.replace(tmp, path)
    elif op.kind == "recreate":
        path.unlink()
        model.removed(place, op.path, prior)
        time.sleep(random.Random(op.seed).uniform(0, 0.05))
        return Outcome(_write(model, place, root, op.path, content(op)))
    elif op.kind == "type_change":
        path.unlink()
        model.removed(place, op.path, prior)
        path.mkdir()
        return Outcome(_write(model, place, root, f"{op.path}/inner.txt", content(op)))
    elif op.kind == "rename":
        target = root / op.target
        if target.exists():
            return Outcome("target exists", skipped=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path, target)
        model.removed(place, op.path, None)  # the content moved: nothing superseded
        model.wrote(place, op.target, prior or digest(b""), None)
        return Outcome(f"renamed to {op.target!r}")
    elif op.kind == "move_dir":
        return _move_dir(op, root, model)
    model.wrote(place, op.path, digest(path.read_bytes()), prior)
    return Outcome(op.kind)


def _move_dir(op: Op, root: Path, model: Model) -> Outcome:
    source, target = root / op.path, root / op.target
    if not source.is_dir() or target.exists():
        return Outcome("folder gone or target exists", skipped=True)
    files = {rel: _prior(source / rel) for rel in _files_under(source)}
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(source, target)
    for rel, d in files.items():
        model.removed(op.place, f"{op.path}/{rel}", None)  # moved: nothing superseded
        if d is not None:
            model.wrote(op.place, f"{op.target}/{rel}", d, None)
    return Outcome(f"moved folder ({len(files)} files)")


class _Worker(threading.Thread):
    """A background part of an operation; an exception it raises is kept for :func:`finish`
    (a harness error must fail the batch by name, not print a traceback and pass)."""

    def __init__(self, target: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.work, self.error = target, ""

    def run(self) -> None:
        try:
            self.work()
        except Exception as exc:  # reported by finish()
            self.error = f"{type(exc).__name__}: {exc}"


def _background(target: Callable[[], None]) -> threading.Thread:
    thread = _Worker(target)
    thread.start()
    return thread


def _slow(op: Op, world: World, model: Model) -> Outcome:
    data = content(op)
    step = max(1, len(data) // 4)
    chunks = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
    pause = random.Random(op.seed).uniform(0.05, 0.4)
    if op.place == "remote":
        prior = remote.prior(world, op.path)

        def upload() -> None:
            if remote.write_slow(world, op.path, chunks, pause):
                model.wrote(op.place, op.path, digest(data), prior, op=op.index)

        thread = _background(upload)
        return Outcome(f"slow drop in {len(chunks)} chunks", False, thread, op.place, op.path)
    root = _root(op, world)
    if root is None:
        return Outcome("root removed", skipped=True)
    path = root / op.path
    if path.is_dir():
        return Outcome("a folder is there", skipped=True)
    prior = _prior(path)

    def local() -> None:
        write_slowly(path, chunks, pause)
        model.wrote(op.place, op.path, digest(data), prior, op=op.index)

    thread = _background(local)
    return Outcome(f"slow write in {len(chunks)} chunks", False, thread, op.place, op.path)


def _fault(op: Op, world: World) -> Outcome:
    name = op.place
    if op.kind == "kill_daemon":
        world.kill_daemon(name)
        return Outcome("daemon killed and restarted")
    if op.kind == "kill_rclone":
        return Outcome(f"killed {world.kill_rclone(name)} rclone")
    if op.kind == "stall":
        return Outcome(f"stalled: {world.stall(op.args['seconds'])}")
    if op.kind == "edit_config":
        world.edit_config(name, debounce=op.args["debounce"])
        return Outcome("config edited, SIGHUP")
    if op.kind == "remove_root":
        if name in getattr(world, "_removed", {}):
            return Outcome("already removed", skipped=True)
        world.remove_root(name)

        def restore() -> None:
            time.sleep(op.args["restore_after"])
            world.restore_root(name)

        return Outcome("root removed", background=_background(restore))
    time.sleep(op.args.get("seconds", 0.1))
    return Outcome("paused")


def _special(op: Op, root: Path) -> Outcome:
    path = root / op.path
    if path.exists() or path.is_symlink():
        return Outcome("exists", skipped=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if op.kind == "fifo":
        os.mkfifo(path)
    else:
        os.symlink(op.target, path)
    return Outcome(op.kind)


def apply(op: Op, world: World, model: Model) -> Outcome:
    """Apply ``op`` now."""
    model.op = op.index
    try:
        if op.kind in (
            "kill_daemon",
            "kill_rclone",
            "stall",
            "edit_config",
            "remove_root",
            "pause",
        ):
            return _fault(op, world)
        if op.kind == "slow_write":
            return _slow(op, world, model)
        if op.place == "remote":
            data, prior = content(op), remote.prior(world, op.path)
            remote.write(world, op.path, data)
            model.wrote(op.place, op.path, digest(data), prior)
            return Outcome(f"dropped {len(data)} B")
        if op.kind == "both_edit":
            for name in world.machines:
                _file_op(
                    Op(
                        op.index,
                        "overwrite",
                        name,
                        op.path,
                        size=op.size,
                        seed=op.seed + len(name),
                    ),
                    world.machines[name].sync_root,
                    model,
                )
            return Outcome("edited on both machines")
        root = _root(op, world)
        if root is None:
            return Outcome("root removed", skipped=True)
        if op.kind in ("symlink", "fifo"):
            return _special(op, root)
        return _file_op(op, root, model)
    except OSError as exc:
        return Outcome(f"{type(exc).__name__}: {exc}", skipped=True)


def finish(outcomes: list[Outcome], timeout: float) -> list[str]:
    """Wait for the background parts of ``outcomes``; returns problems (one line each)."""
    deadline = time.monotonic() + timeout
    problems = []
    for outcome in outcomes:
        thread = outcome.background
        if isinstance(thread, threading.Thread):
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                problems.append(f"still running after {timeout} s: {outcome.done}")
            elif isinstance(thread, _Worker) and thread.error:
                problems.append(f"failed ({outcome.done}): {thread.error}")
    return problems
