"""``check``: compare the sync root and the remote with the mode's filters."""

from __future__ import annotations

import json
import sys

import click

from watcher.cli.app import cli, common_options, load, run_async, session_for
from watcher.engine.check import CheckReport, run_check

#: The heading of each kind of path in the text output.
_KINDS = (
    ("differ", "differs"),
    ("missing_on_remote", "missing on remote"),
    ("missing_locally", "missing locally"),
    ("errors", "not compared"),
)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option(
    "--download",
    is_flag=True,
    help="Compare the bytes of both sides (rclone check --download) instead of hashes/sizes.",
)
@common_options
@click.pass_context
def check(ctx: click.Context, as_json: bool, download: bool) -> None:
    """Compare the sync root and the remote with the mode's filters (one way in mailbox and
    mirror): list files missing on either side and files that differ. Exit 0 when they
    match, 1 when they do not (or could not be compared)."""
    cfg = load(ctx)

    async def go() -> CheckReport:
        session = await session_for(cfg)
        return await run_check(session, download=download)

    report = run_async(go)
    if as_json:
        click.echo(json.dumps({"config": str(cfg.config_path), "mode": cfg.mode,
                               **report.to_json()}, indent=2, sort_keys=True))  # fmt: skip
    else:
        _print_report(report, cfg.mode)
    sys.exit(0 if report.match else 1)


def _print_report(report: CheckReport, mode: str) -> None:
    data = report.to_json()
    how = "one way, " if report.plan.one_way else ""
    how += "bytes read from both sides" if report.plan.download else "sizes and hashes"
    click.echo(f"check {data['local']} <-> {data['remote']} (mode {mode}: {how})")
    if report.message is not None:
        click.echo(f"workspace-sync: error: check could not compare: {report.message}", err=True)
        return
    width = max(len(title) for _, title in _KINDS)
    for key, title in _KINDS:
        for path in data[key]:
            click.echo(f"{title:<{width}}  {path}")
    counts = [f"{data['matching']} match"]
    counts += [f"{len(data[key])} {title}" for key, title in _KINDS if data[key]]
    verdict = "in sync" if report.match else "NOT in sync"
    click.echo(f"{verdict}: " + ", ".join(counts))
