"""The mutant registry of the oracle (:mod:`tests.oracle.mutant`): well formed, every patch
reaches every importer, and a bad name is one line and exit 2. (That each mutant really
breaks the tool is ``tests/oracle/test_mutant_breaks.py``, marker ``oracle``.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.oracle.check import INVARIANTS
from tests.oracle.mutant import MUTANTS, main
from tests.oracle.world import TOPOLOGIES

REPO = Path(__file__).resolve().parents[2]


def test_registry_is_well_formed() -> None:
    assert len(MUTANTS) >= 7
    for name, mutant in MUTANTS.items():
        assert mutant.name == name
        assert mutant.description
        assert mutant.catches and set(mutant.catches) <= set(INVARIANTS), name
        assert mutant.topology in TOPOLOGIES, name


def test_every_patch_reaches_every_importer() -> None:
    """Applied together (in a process of their own), no ``watcher`` module keeps a copy of
    a replaced function, so no code path runs unmutated."""
    code = (
        "import json\n"
        "from tests.oracle.mutant import MUTANTS, stale_copies\n"
        "for m in MUTANTS.values(): m.apply()\n"
        "print(json.dumps(stale_copies()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize("argv", [["no-such-mutant", "status"], []])
def test_unknown_mutant_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "drain-deletes-first" in err
