"""The bounded oracle (marker ``oracle``; ``.ci/run`` runs it as a step of its own): per
topology three seeded runs of 150 operations: two on a local folder, one on ``rclone serve
s3`` (``--remote moto``, moto's S3 server, runs in replays and ``bench/soak.py``, not in this
bounded set, to keep it short). ``WS_ORACLE_SEEDS=1,2,3`` and
``WS_ORACLE_OPS=N`` change the seeds and the length; a failure prints the command that
replays it (``python -m tests.oracle --seed N ...``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.oracle.run import Params, run_oracle
from tests.oracle.world import Unavailable

SEEDS = tuple(int(s) for s in os.environ.get("WS_ORACLE_SEEDS", "1601,1602,1603").split(","))
OPS = int(os.environ.get("WS_ORACLE_OPS", "150"))
#: Operations between two checks (each check waits for quiescence: ~3 s local, ~10 s on S3).
BATCH = 25
REMOTES = ("local", "s3", "local")
#: Runs that still find an open violation (issue 16 is open; docs/reliability.md, "The
#: convergence oracle"): they run and report, and do not fail the step until fixed.
OPEN = {
    ("bisync", 1601): "bisync: timing-dependent, about 1 in 3 runs after the 16-4b/16-5 fixes: "
    "a version edited on both machines found nowhere (b:f10.txt op 30, b:docs/café 29.txt "
    "op 100; not analysed)",
}
CASES = [
    pytest.param(
        topology,
        REMOTES[i % 3],
        seed,
        id=f"{topology}-{REMOTES[i % 3]}-{seed}",
        marks=[pytest.mark.xfail(reason=OPEN[topology, seed])] if (topology, seed) in OPEN else [],
    )
    for topology in ("mailbox-mirror", "bisync")
    for i, seed in enumerate(SEEDS)
]


@pytest.mark.oracle
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("topology", "remote", "seed"), CASES)
def test_oracle(topology: str, remote: str, seed: int, tmp_path: Path) -> None:
    """Every invariant holds after every batch of a seeded run against running daemons."""
    params = Params(
        seed=seed, ops=OPS, topology=topology, remote=remote, base=tmp_path / "o", batch=BATCH
    )
    try:
        report = run_oracle(params)
    except Unavailable as exc:
        pytest.skip(f"{remote} cannot run here: {exc}")
    print(report.summary())
    assert report.passed, report.failure()
