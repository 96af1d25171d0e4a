"""The oracle driver's pure parts: the replay command parses back to the same parameters,
batches, and the shrinker (with a stand-in runner: which operations make it fail is the
test's choice, no world is started)."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

from tests.oracle.__main__ import parse
from tests.oracle.check import Violation
from tests.oracle.ops import Op
from tests.oracle.run import Params, Report, chunked, shrink


def test_replay_command_parses_back_to_the_same_run() -> None:
    params = Params(seed=7, ops=90, topology="bisync", remote="s3", batch=9, mutant="m")
    argv = shlex.split(replace(params, indices=(1, 5, 8)).command())[3:]
    parsed, want_shrink = parse(argv)
    assert parsed == replace(params, indices=(1, 5, 8))
    assert not want_shrink


def test_chunked_keeps_order_and_every_op() -> None:
    ops = [Op(index=i, kind="create", place="gw", path=f"f{i}") for i in range(7)]
    batches = list(chunked(ops, 3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [op.index for b in batches for op in b] == list(range(7))


def test_shrink_finds_the_two_operations_that_fail_together(monkeypatch) -> None:
    total = 40
    monkeypatch.setattr(
        "tests.oracle.run.selected_ops",
        lambda p: (
            [Op(index=i, kind="create", place="gw", path=f"f{i}") for i in range(total)]
            if p.indices is None
            else [Op(index=i, kind="create", place="gw", path=f"f{i}") for i in p.indices]
        ),
    )
    runs: list[tuple[int, ...]] = []

    def runner(params: Params) -> Report:
        kept = set(params.indices or ())
        runs.append(tuple(sorted(kept)))
        report = Report(params, Path("/dev/null"))
        if {3, 29} <= kept:
            report.violations = [Violation("nothing-lost", "lost")]
        elif 3 in kept:  # another invariant: the shrinker must not settle for it
            report.violations = [Violation("convergence", "differs")]
        return report

    params = Params(seed=1, ops=total, batch=10)
    first = Report(params, Path("/dev/null"), violations=[Violation("nothing-lost", "x")])
    first.failed_batch = 3
    smaller = shrink(params, first, runner=runner, budget=200)
    assert smaller.indices == (3, 29)
    assert len(runs) <= 200
