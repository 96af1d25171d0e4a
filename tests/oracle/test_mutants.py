"""The oracle catches every mutant (issue 16, acceptance: "the oracle's checker is itself
tested"): a seeded run with the daemons and CLI calls of the world running mutated
(:mod:`tests.oracle.mutant`) must fail, first on one of the invariants the mutant names in
``catches``; the same seed unmutated must pass (else that is an oracle finding, not a reason
to change the seed).

The seeds were found by trying, e.g.::

    for s in $(seq 1 20); do python -m tests.oracle --seed $s --ops 60 \\
        --topology mailbox-mirror --mutant drain-deletes-first | tail -1; done

``WS_MUTANT_SEEDS=name:seed:ops,...`` overrides entries of :data:`CATCH` (calibration)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.oracle.mutant import MUTANTS
from tests.oracle.run import Params, Report, run_oracle
from tests.oracle.world import Unavailable

#: mutant -> (seed, operations) of a run that catches it (calibrated 2026-12-02 with the
#: command in the module docstring; each mutant's first violation is one it names). The
#: operations end with the batch that catches it (a mutated run stops there; only the
#: unmutated run would go on).
CATCH: dict[str, tuple[int, int]] = {
    "bisync-drops-loser": (16, 15),
    "debounce-drops-last": (1601, 15),
    "drain-deletes-first": (1601, 15),
    "drain-keeps-landed": (1601, 15),
    "drain-overwrites": (1603, 45),
    "health-always-ok": (1602, 45),
    "ingest-resends": (1601, 15),
    "pull-without-backup": (1601, 30),
    "push-without-outbox-exclude": (1601, 15),
}
#: A mutated world need not come to rest: a shorter bound than an ordinary run's.
MUTANT_QUIET = 20.0
for _item in filter(None, os.environ.get("WS_MUTANT_SEEDS", "").split(",")):
    _name, _seed, _ops = _item.split(":")
    CATCH[_name] = (int(_seed), int(_ops))


def _run(params: Params) -> Report:
    try:
        return run_oracle(params)
    except Unavailable as exc:
        pytest.skip(f"the oracle's world cannot run here: {exc}")


def _clean_runs() -> dict[tuple[int, str], int]:
    """(seed, topology) -> operations of the one unmutated run standing for every mutant's."""
    out: dict[tuple[int, str], int] = {}
    for name, (seed, ops) in CATCH.items():
        key = (seed, MUTANTS[name].topology)
        out[key] = max(ops, out.get(key, 0))
    return out


CLEAN = [
    pytest.param(seed, ops, topology, id=f"{topology}-{seed}-{ops}")
    for (seed, topology), ops in sorted(_clean_runs().items())
]


@pytest.mark.oracle
@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_oracle_catches_mutant(name: str, tmp_path: Path) -> None:
    """The mutated run fails, first on an invariant the mutant names."""
    mutant = MUTANTS[name]
    seed, ops = CATCH[name]
    params = Params(
        seed=seed,
        ops=ops,
        topology=mutant.topology,
        remote="local",
        mutant=name,
        base=tmp_path / "mutated",
        quiet_timeout=MUTANT_QUIET,
    )
    caught = _run(params)
    print(caught.summary())
    assert caught.violations, f"{name} not caught: {caught.summary()}\nreplay: {params.command()}"
    first = caught.violations[0]
    assert first.invariant in mutant.catches, caught.failure()


@pytest.mark.oracle
@pytest.mark.timeout(240)
@pytest.mark.parametrize(("seed", "ops", "topology"), CLEAN)
def test_mutant_seed_passes_unmutated(seed: int, ops: int, topology: str, tmp_path: Path) -> None:
    """The seeds that catch the mutants pass with the tool unmutated (else the oracle, not
    the mutant, is what fails)."""
    params = Params(seed=seed, ops=ops, topology=topology, remote="local", base=tmp_path / "o")
    clean = _run(params)
    print(clean.summary())
    assert clean.passed, "oracle finding (unmutated run fails):\n" + clean.failure()
