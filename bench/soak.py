"""The long oracle soak: ``--ops N`` seeded operations per topology (or ``--hours H`` of them)
against running daemons, every invariant checked after every batch; prints a table and writes
its figures into docs/reliability.md (the block between the ``soak`` markers).

    .venv/bin/python bench/soak.py --ops 10000                       # both topologies, local
    .venv/bin/python bench/soak.py --ops 10000 --remote s3 --topology bisync
    .venv/bin/python bench/soak.py --hours 6 --topology mailbox-mirror
    .venv/bin/python bench/soak.py --ops 300 --no-docs               # a quick look

Daemon RSS is sampled after start-up, after the first batch (warm: lazily imported modules
loaded) and at the end; "RSS drift" compares the end with the warm sample."""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tests.oracle.run import Params, Report, run_oracle  # noqa: E402
from tests.oracle.world import REMOTES, TOPOLOGIES  # noqa: E402

DOC = PROJECT_DIR / "docs" / "reliability.md"
BEGIN, END = "<!-- soak:begin -->", "<!-- soak:end -->"
HEADER = (
    "| topology / remote | seed | ops (faults) | batches | files / MB checked | violations "
    "| daemon RSS start → warm → end (MB) | RSS drift | wall | date |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)
#: Operations generated for an ``--hours`` run (it stops on time, long before these run out).
HOURS_OPS = 200_000


def rss_text(report: Report) -> tuple[str, str]:
    """``start → warm → end`` per daemon in MB, and the largest end-vs-warm drift."""
    if len(report.rss) < 2:
        return "—", "—"
    first, warm, last = report.rss[0], report.rss[min(1, len(report.rss) - 1)], report.rss[-1]
    parts, drifts = [], []
    for name in sorted(warm.kb):
        start, w, end = first.kb.get(name, 0), warm.kb[name], last.kb.get(name, 0)
        parts.append(f"{name} {start / 1024:.0f} → {w / 1024:.0f} → {end / 1024:.0f}")
        if w and end:
            drifts.append((end - w) / w * 100)
    drift = max(drifts, key=abs) if drifts else None
    return "; ".join(parts), "—" if drift is None else f"{drift:+.1f} %"


def row(report: Report) -> str:
    """The report as one row of the docs table."""
    p = report.params
    rss, drift = rss_text(report)
    minutes = report.seconds / 60
    kept = " (daemons kept)" if p.keep_daemons else ""
    return (
        f"| {p.topology} / {p.remote}{kept} | {p.seed} | {report.applied} ({report.faults}) "
        f"| {report.batches} | {report.files_checked:,} / {report.bytes_checked / 1e6:,.0f} "
        f"| {len(report.violations)} | {rss} | {drift} | {minutes:.0f} min "
        f"| {datetime.now(timezone.utc):%Y-%m-%d} |"
    )


def write_docs(rows: dict[str, str]) -> None:
    """Replace the rows of the same topology / remote in the doc's soak block (or add it)."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), text, re.S)
    kept: dict[str, str] = {}
    if match:
        for line in match.group(1).splitlines():
            if line.startswith("| ") and " / " in line and not line.startswith("| topology"):
                kept[line.split("|")[1].strip()] = line
    kept.update(rows)
    block = f"{BEGIN}\n{HEADER}\n" + "\n".join(kept[k] for k in sorted(kept)) + f"\n{END}"
    if match:
        text = text[: match.start()] + block + text[match.end() :]
    else:
        title = "## The long oracle soak (`bench/soak.py`)"
        text = f"{text.rstrip()}\n\n{title}\n\n{block}\n"
    DOC.write_text(text, encoding="utf-8")


def main() -> int:
    """Run the soaks asked for; exit 1 when any had a violation."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=None)
    parser.add_argument("--seed", type=int, default=16_000)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--topology", choices=(*TOPOLOGIES, "all"), default="all")
    parser.add_argument("--remote", choices=REMOTES, default="local")
    parser.add_argument(
        "--keep-daemons",
        action="store_true",
        help="no kill_daemon faults: every daemon runs the whole soak, so its RSS drift is a leak",
    )
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args()
    topologies = TOPOLOGIES if args.topology == "all" else (args.topology,)
    rows, failed = {}, False
    for topology in topologies:
        base = Path(tempfile.mkdtemp(prefix=f"soak-{topology}-"))
        params = Params(
            seed=args.seed,
            ops=HOURS_OPS if args.hours else args.ops,
            topology=topology,
            remote=args.remote,
            base=base,
            batch=args.batch,
            max_seconds=args.hours * 3600 if args.hours else None,
            keep_daemons=args.keep_daemons,
        )
        print(f"soak {topology}/{args.remote}: {params.command()} (world in {base})", flush=True)
        started = time.monotonic()
        report = run_oracle(params)
        print(report.summary() if report.passed else report.failure(), flush=True)
        print(f"  RSS: {rss_text(report)[0]} (drift {rss_text(report)[1]})", flush=True)
        print(f"  {time.monotonic() - started:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
        kept = " (daemons kept)" if args.keep_daemons else ""
        rows[f"{topology} / {args.remote}{kept}"] = row(report)
        failed |= not report.passed
    print("\n" + HEADER + "\n" + "\n".join(rows.values()))
    if not args.no_docs:
        write_docs(rows)
        print(f"\nwrote {DOC.relative_to(PROJECT_DIR)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
