"""The oracle's driver: a seeded list of operations applied in batches to a running world, the
invariants checked after each batch's quiescence, a replayable log, and a shrinker.

A failure report names the seed, the command that replays it, the log of operations up to
the failure and the first violated invariant with the differing paths."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from tests.conftest import proc_cmdlines
from tests.oracle import actions
from tests.oracle.check import Violation, check
from tests.oracle.model import Model
from tests.oracle.ops import Op, generate
from tests.oracle.snapshot import STATS
from tests.oracle.world import World

#: Faults, as op kinds (counted in the report).
FAULTS = frozenset({"kill_daemon", "kill_rclone", "stall", "remove_root", "edit_config"})
#: Log lines kept in a failure report (the whole log is in the file).
TAIL = 40


@dataclass(frozen=True)
class Params:
    """One oracle run. ``indices`` (replay / shrinking) keeps only those operations of the
    seeded list; ``max_seconds`` stops after the batch that passes it (long soaks)."""

    seed: int
    ops: int
    topology: str = "mailbox-mirror"
    remote: str = "local"
    mutant: str | None = None
    base: Path | None = None
    batch: int = 15
    quiet_timeout: float = 60.0
    indices: tuple[int, ...] | None = None
    max_seconds: float | None = None
    #: No ``kill_daemon`` operations: each daemon lives the whole run (an RSS drift is a leak).
    keep_daemons: bool = False

    def command(self) -> str:
        """The command line that replays this run."""
        parts = [
            "python -m tests.oracle",
            f"--seed {self.seed}",
            f"--ops {self.ops}",
            f"--topology {self.topology}",
            f"--remote {self.remote}",
            f"--batch {self.batch}",
        ]
        if self.mutant:
            parts.append(f"--mutant {self.mutant}")
        if self.indices is not None:
            parts.append("--only " + ",".join(map(str, self.indices)))
        if self.keep_daemons:
            parts.append("--keep-daemons")
        return " ".join(parts)


@dataclass(frozen=True)
class RssSample:
    """Resident set size of each machine's daemon (kB) at ``at`` seconds into the run."""

    at: float
    kb: dict[str, int]


@dataclass
class Report:
    """What a run found. ``violations`` empty = passed."""

    params: Params
    log: Path
    violations: list[Violation] = field(default_factory=list)
    applied: int = 0
    skipped: int = 0
    faults: int = 0
    batches: int = 0
    failed_batch: int | None = None
    files_checked: int = 0
    bytes_checked: int = 0
    seconds: float = 0.0
    rss: list[RssSample] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No invariant was violated."""
        return not self.violations

    def summary(self) -> str:
        """One line of figures."""
        return (
            f"{self.params.topology}/{self.params.remote} seed {self.params.seed}: "
            f"{self.applied} ops applied ({self.skipped} skipped, {self.faults} faults) in "
            f"{self.batches} batches, {self.files_checked} files / {self.bytes_checked} bytes "
            f"checked, {len(self.violations)} violations, {self.seconds:.1f} s"
        )

    def failure(self) -> str:
        """The failure report: seed, replay command, log tail, first violation."""
        lines = [
            f"oracle FAILED: {self.summary()}",
            f"first violation (batch {self.failed_batch}): {self.violations[0]}",
            *[f"  also: {v}" for v in self.violations[1:6]],
            f"replay: {self.params.command()}",
            f"log: {self.log}",
            f"last {len(self.tail)} log lines:",
            *[f"  {line}" for line in self.tail],
        ]
        return "\n".join(lines)


def run_oracle(params: Params) -> Report:
    """Run ``params`` to the end or to the first batch with a violation."""
    base = params.base or Path(tempfile.mkdtemp(prefix="oracle-"))
    shutil.rmtree(base / "w", ignore_errors=True)  # a fresh world, also when --base is reused
    base.mkdir(parents=True, exist_ok=True)
    report = Report(params, base / "oracle.log")
    started = time.monotonic()
    reads = (STATS.files, STATS.bytes)
    world = World(
        base / "w",
        params.topology,
        params.remote,
        params.mutant,
        start_timeout=min(60.0, params.quiet_timeout),
    )
    with report.log.open("w", encoding="utf-8") as log:
        log.write(json.dumps({"params": params.command()}) + "\n")
        try:
            world.start()
            report.rss.append(RssSample(0.0, daemon_rss(world)))
            _batches(params, world, report, log, started)
        finally:
            _stop(world, report, log)
            log.flush()
    report.seconds = time.monotonic() - started
    report.files_checked = STATS.files - reads[0]
    report.bytes_checked = STATS.bytes - reads[1]
    report.tail = report.log.read_text(encoding="utf-8", errors="replace").splitlines()[-TAIL:]
    return report


def selected_ops(params: Params) -> list[Op]:
    """The seeded operations of ``params`` (only ``indices`` when given)."""
    ops = generate(params.seed, params.ops, params.topology, params.remote)
    if params.keep_daemons:
        ops = [op for op in ops if op.kind != "kill_daemon"]
    if params.indices is None:
        return ops
    keep = set(params.indices)
    return [op for op in ops if op.index in keep]


def _batches(params: Params, world: World, report: Report, log: TextIO, started: float) -> None:
    model = Model(params.topology)
    for number, batch in enumerate(chunked(selected_ops(params), params.batch)):
        report.batches = number + 1
        violations = _one_batch(batch, world, model, report, log)
        report.rss.append(RssSample(time.monotonic() - started, daemon_rss(world)))
        log.write(f"# rss kB: {report.rss[-1].kb}\n")
        if violations:
            report.violations = violations
            report.failed_batch = number
            return
        if params.max_seconds is not None and time.monotonic() - started > params.max_seconds:
            log.write(f"# stopped after {params.max_seconds} s\n")
            return


def _one_batch(
    batch: Sequence[Op], world: World, model: Model, report: Report, log: TextIO
) -> list[Violation]:
    outcomes: list[actions.Outcome] = []
    for op in batch:
        for earlier in outcomes:  # one writer per path at a time: the model knows no mixes
            if earlier.overlaps(op):
                actions.finish([earlier], timeout=60)
        took = time.monotonic()
        outcome = actions.apply(op, world, model)
        took = time.monotonic() - took
        outcomes.append(outcome)
        report.applied += 1
        report.skipped += outcome.skipped
        report.faults += op.kind in FAULTS
        slow = f" ({took:.1f} s)" if took >= 0.5 else ""
        log.write(
            f"{op.line()}\n#   {'skipped: ' if outcome.skipped else ''}{outcome.done}{slow}\n"
        )
    problems = actions.finish(outcomes, timeout=60)
    quiet = world.quiesce(report.params.quiet_timeout)
    log.write(f"# quiesce: ok={quiet.ok} waited={quiet.waited:.1f}s {quiet.why}\n")
    took = time.monotonic()
    snapshot = world.snapshot()
    log.write(f"# snapshot: {time.monotonic() - took:.1f} s\n")
    found = check(snapshot, model)  # the most important first, even when not quiet
    found += [Violation("convergence", f"background op: {p}") for p in problems]
    if not quiet.ok:
        found.append(Violation("convergence", f"no quiescence within the bound: {quiet.why}"))
    for violation in found:
        log.write(f"# VIOLATION {violation}\n")
    log.flush()
    return found


def _stop(world: World, report: Report, log: TextIO) -> None:
    try:
        leftovers = world.stop()
    except Exception as exc:  # a world that cannot stop is a finding, not a crash
        leftovers = [f"stop() raised {type(exc).__name__}: {exc}"]
    for line in leftovers:
        log.write(f"# LEFTOVER {line}\n")
    if leftovers and not report.violations:
        report.violations = [Violation("no-leftovers", "; ".join(leftovers[:5]))]
        report.failed_batch = report.batches


def chunked(ops: Sequence[Op], size: int) -> Iterator[list[Op]]:
    """``ops`` in batches of ``size``."""
    for start in range(0, len(ops), max(1, size)):
        yield list(ops[start : start + size])


def daemon_rss(world: World) -> dict[str, int]:
    """VmRSS (kB) of every machine's running ``watch`` process (by its config in argv)."""
    out: dict[str, int] = {}
    wanted = {os.fsencode(m.config): name for name, m in world.machines.items()}
    for pid, raw in proc_cmdlines():
        argv = raw.split(b"\0")
        name = next((n for c, n in wanted.items() if c in argv), None) if b"watch" in argv else None
        if name is None:
            continue
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[name] = out.get(name, 0) + int(line.split()[1])
        except (OSError, ValueError):
            continue
    return out


def shrink(
    params: Params,
    report: Report,
    runner: Callable[[Params], Report] = run_oracle,
    budget: int = 12,
) -> Params:
    """Drop operations while the same invariant still fails (halves, then quarters, ...; at
    most ``budget`` reruns); returns the smallest failing ``Params`` found."""
    invariant = report.violations[0].invariant
    upto = (report.failed_batch or 0) * params.batch + params.batch
    current = [op.index for op in selected_ops(params)][:upto]
    parts, runs = 2, 0
    while len(current) > 1 and runs < budget:
        size = max(1, len(current) // parts)
        for start in range(0, len(current), size):
            if runs >= budget:
                break
            trial = current[:start] + current[start + size :]
            runs += 1
            again = runner(replace(params, indices=tuple(trial), base=None))
            if again.violations and again.violations[0].invariant == invariant:
                current, parts = trial, max(parts - 1, 2)
                break
        else:
            if size == 1:
                break
            parts = min(len(current), parts * 2)
    return replace(params, indices=tuple(current), base=None)
