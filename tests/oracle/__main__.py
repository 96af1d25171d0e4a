"""``python -m tests.oracle --seed N --ops M [...]``: one oracle run (a replay of a failure
report's command), optionally shrunk; exit 0 when every invariant held, 1 otherwise."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.oracle.run import Params, run_oracle, shrink
from tests.oracle.world import REMOTES, TOPOLOGIES, Unavailable


def parse(argv: list[str]) -> tuple[Params, bool]:
    """The run's parameters and whether to shrink a failure."""
    parser = argparse.ArgumentParser(prog="python -m tests.oracle", description=__doc__)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--ops", type=int, default=150)
    parser.add_argument("--topology", choices=TOPOLOGIES, default="mailbox-mirror")
    parser.add_argument("--remote", choices=REMOTES, default="local")
    parser.add_argument("--mutant", default=None, help="run a broken variant (tests.oracle.mutant)")
    parser.add_argument("--batch", type=int, default=15, help="operations between two checks")
    parser.add_argument("--only", default=None, help="comma-separated op indices to keep")
    parser.add_argument("--base", type=Path, default=None, help="folder for the world (kept)")
    parser.add_argument("--keep-daemons", action="store_true", help="no kill_daemon faults")
    parser.add_argument("--shrink", action="store_true", help="shrink a failure (reruns)")
    args = parser.parse_args(argv)
    only = tuple(int(i) for i in args.only.split(",")) if args.only else None
    params = Params(
        seed=args.seed,
        ops=args.ops,
        topology=args.topology,
        remote=args.remote,
        mutant=args.mutant,
        base=args.base,
        batch=args.batch,
        indices=only,
        keep_daemons=args.keep_daemons,
    )
    return params, args.shrink


def main(argv: list[str] | None = None) -> int:
    """Run, print the summary (or the failure report, and the shrunk replay command)."""
    params, want_shrink = parse(sys.argv[1:] if argv is None else argv)
    try:
        report = run_oracle(params)
    except Unavailable as exc:
        print(f"oracle: cannot run here: {exc}", file=sys.stderr)
        return 2
    if report.passed:
        print(report.summary())
        return 0
    print(report.failure())
    if want_shrink:
        smaller = shrink(params, report)
        print(f"shrunk to {len(smaller.indices or ())} operations: {smaller.command()}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
